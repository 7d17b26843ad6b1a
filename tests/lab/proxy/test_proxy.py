"""The proxy over loopback TCP: toxics' effects, runtime changes, one-connection targeting."""

from __future__ import annotations

import socket
import struct
from functools import partial

import pytest
import trio

from lab.errors import NameTaken, UnknownName
from lab.proxy.proxy import Proxy
from lab.proxy.toxics import Coalescer, Latency, LimitData, ResetPeer, SlowClose, Timeout
from lab.relay import RelayResult
from tests.support.proxies import connect, opened, start_echo, start_proxy
from tests.support.waiting import receive_exactly, wait_for


async def test_bytes_go_through_and_connections_are_listed(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    async with await connect(proxy) as client:
        await client.send_all(b"hello")
        assert await receive_exactly(client, 5) == b"hello"
        (conn,) = proxy.connections.values()
        await wait_for(lambda: conn.describe()["bytes_down"] == 5)  # counted once sent
        listed = conn.describe()
        assert listed["id"] == 1 and listed["bytes_up"] == 5 and listed["bytes_down"] == 5
        assert str(listed["peer"]).startswith("127.0.0.1:")


async def test_latency_delays_the_answer_by_at_least_its_latency(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Latency(name="slow", latency=200))
    async with await connect(proxy) as client:
        start = trio.current_time()
        await client.send_all(b"ping")
        assert await receive_exactly(client, 4) == b"ping"
        assert trio.current_time() - start >= 0.2


async def test_limit_data_closes_exactly_after_n_bytes(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(LimitData(name="cut", bytes=10))
    async with await connect(proxy) as client:
        await client.send_all(b"0123456789abcdef")
        assert await receive_exactly(client, 100) == b"0123456789"
        assert await client.receive_some(10) == b""


async def test_reset_peer_resets_the_client(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(ResetPeer(name="rst", timeout=50))
    async with await connect(proxy) as client:
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError) as caught:
            while await client.receive_some(10):
                pass
        assert isinstance(caught.value.__cause__, ConnectionResetError)


async def test_timeout_holds_data_until_removed_without_dropping_the_connection(
    nursery: trio.Nursery,
) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Timeout(name="hole", stream="upstream"))
    async with await connect(proxy) as client:
        await client.send_all(b"lost")
        with trio.move_on_after(0.2) as waiting:
            await client.receive_some(10)
        assert waiting.cancelled_caught  # nothing came back
        proxy.remove_toxic("hole")
        await client.send_all(b"found")
        assert await receive_exactly(client, 5) == b"found"


async def test_timeout_closes_after_its_timeout(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Timeout(name="hole", timeout=100))
    async with await connect(proxy) as client:
        with trio.fail_after(5):
            assert await client.receive_some(10) == b""


async def test_a_toxic_added_at_runtime_affects_an_open_connection(
    nursery: trio.Nursery,
) -> None:
    proxy = await start_proxy(nursery)
    async with await connect(proxy) as client:
        await client.send_all(b"before")
        assert await receive_exactly(client, 6) == b"before"
        proxy.add_toxic(Latency(name="slow", latency=200))
        start = trio.current_time()
        await client.send_all(b"after")
        assert await receive_exactly(client, 5) == b"after"
        assert trio.current_time() - start >= 0.2


async def test_a_toxic_can_target_one_connection(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    async with await connect(proxy) as first, await connect(proxy) as second:
        await opened(proxy, 2)
        proxy.add_toxic(Timeout(name="hole", connection=1))
        await second.send_all(b"free")
        assert await receive_exactly(second, 4) == b"free"
        await first.send_all(b"held")
        with trio.move_on_after(0.2) as waiting:
            await first.receive_some(10)
        assert waiting.cancelled_caught


async def test_slow_close_delays_the_fin(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(SlowClose(name="late", delay=200, stream="upstream"))
    async with await connect(proxy) as client:
        start = trio.current_time()
        await client.send_eof()
        with trio.fail_after(5):
            assert await client.receive_some(10) == b""  # the echo's FIN, after ours got there
        assert trio.current_time() - start >= 0.2


async def test_toxic_names_are_unique_and_targets_must_exist(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Latency(name="slow"))
    with pytest.raises(NameTaken):
        proxy.add_toxic(Latency(name="slow"))
    with pytest.raises(UnknownName):
        proxy.add_toxic(Latency(name="other", connection=42))
    with pytest.raises(UnknownName):
        proxy.remove_toxic("nothing")


async def test_a_coalescer_holding_bytes_for_a_vanished_client_ends_only_that_connection(
    nursery: trio.Nursery,
) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Coalescer(name="glue", window=200))
    doomed = await connect(proxy)
    await doomed.send_all(b"echoed back into the coalescer")
    await opened(proxy, 1)
    # Reset (SO_LINGER 0) while the echo is held: the timer's flush meets a dead peer.
    doomed.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await doomed.aclose()
    await wait_for(lambda: not proxy.connections, timeout=5)
    async with await connect(proxy) as client:  # the proxy itself is still serving
        await client.send_all(b"still here")
        assert await receive_exactly(client, 10) == b"still here"


async def test_a_toxic_on_both_streams_acts_each_way(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Latency(name="slow", stream="both", latency=150))
    async with await connect(proxy) as client:
        start = trio.current_time()
        await client.send_all(b"ping")
        assert await receive_exactly(client, 4) == b"ping"
        assert trio.current_time() - start >= 0.3  # up to the echo, and back


async def test_a_burst_of_writes_through_latency_arrives_about_one_latency_late(
    nursery: trio.Nursery,
) -> None:
    proxy = await start_proxy(nursery)
    proxy.add_toxic(Latency(name="slow", latency=300))
    async with await connect(proxy) as client:
        start = trio.current_time()
        for i in range(20):  # 20 separate chunks, 10 ms apart
            await client.send_all(b"%02d" % i)
            await trio.sleep(0.01)
        echoed = await receive_exactly(client, 40)
        elapsed = trio.current_time() - start
    assert echoed == b"".join(b"%02d" % i for i in range(20))
    assert 0.3 <= elapsed < 1.5  # one latency after the last write, not 20 of them


async def test_a_connection_is_found_by_its_clients_address(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery)
    async with await connect(proxy), await connect(proxy) as second:
        await opened(proxy, 2)
        host, port = second.socket.getsockname()[:2]
        assert proxy.find(f"{host}:{port}").id == 2
        assert proxy.find(f"[{host}]:{port}").id == 2  # brackets are fine too
        with pytest.raises(UnknownName):
            proxy.find(f"{host}:1")


async def test_reset_removes_every_toxic_and_reseeds(nursery: trio.Nursery) -> None:
    proxy = await start_proxy(nursery, seed=1)
    proxy.add_toxic(Timeout(name="hole"))
    proxy.add_toxic(Latency(name="slow", latency=10))
    async with await connect(proxy) as client:
        await opened(proxy, 1)
        proxy.reset(seed=9)
        assert proxy.toxics == {} and proxy.seed == 9
        await client.send_all(b"free again")  # the open connection is freed too
        assert await receive_exactly(client, 10) == b"free again"


async def test_a_relay_ended_by_a_toxic_says_so(nursery: trio.Nursery) -> None:
    upstream_port = await start_echo(nursery)
    proxy = Proxy("echo", ("127.0.0.1", upstream_port))
    proxy.add_toxic(LimitData(name="cut", bytes=4))
    results: list[RelayResult] = []

    async def handle(client: trio.SocketStream) -> None:
        async with client, await trio.open_tcp_stream("127.0.0.1", upstream_port) as up:
            results.append(await proxy.relay(client, up, peer="test:1"))

    (listener,) = await nursery.start(partial(trio.serve_tcp, handle, 0, host="127.0.0.1"))
    async with await trio.open_tcp_stream("127.0.0.1", listener.socket.getsockname()[1]) as c:
        await c.send_all(b"abcdefgh")
        assert await receive_exactly(c, 8) == b"abcd"
    await wait_for(lambda: bool(results))
    assert results[0].reason == "toxic-close:limit_data" and results[0].bytes_down == 4
