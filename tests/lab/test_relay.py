"""lab.relay: two streams relayed both ways, half-close, resets named by side, the pipe seam.

Bytes and half-close run on memory streams; resets need real TCP sockets
(SO_LINGER), so those tests use loopback pairs.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from lab.relay import Flush, Pipe, RelayResult, Send, relay
from tests.support.waiting import receive_exactly

IDLE = 30.0


def memory_pair() -> tuple[trio.abc.HalfCloseableStream, trio.abc.HalfCloseableStream]:
    return trio.testing.memory_stream_pair()  # type: ignore[return-value]


@asynccontextmanager
async def tcp_pair() -> AsyncIterator[tuple[trio.SocketStream, trio.SocketStream]]:
    """Both ends of one loopback TCP connection."""
    listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
    async with listener:
        port = listener.socket.getsockname()[1]
        near = await trio.open_tcp_stream("127.0.0.1", port)
        far = await listener.accept()
    async with near, far:
        yield near, far


class Relayed:
    """A relay running in a nursery; ``done`` is set with its ``result``."""

    def __init__(self, nursery: trio.Nursery, client: trio.abc.HalfCloseableStream,
                 upstream: trio.abc.HalfCloseableStream, **pipes: Pipe | Flush) -> None:
        self.done = trio.Event()
        self.result = RelayResult(reason="running")
        nursery.start_soon(self._run, client, upstream, pipes)

    async def _run(self, client: trio.abc.HalfCloseableStream,
                   upstream: trio.abc.HalfCloseableStream, pipes: dict[str, Pipe | Flush]) -> None:
        self.result = await relay(client, upstream, idle_timeout=IDLE, **pipes)
        self.done.set()

    async def wait(self) -> RelayResult:
        with trio.fail_after(5):
            await self.done.wait()
        return self.result


def reset(stream: trio.SocketStream) -> None:
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def test_bytes_flow_both_ways_and_are_counted(nursery: trio.Nursery) -> None:
    client, client_side = memory_pair()
    upstream, upstream_side = memory_pair()
    relayed = Relayed(nursery, client_side, upstream_side)
    await client.send_all(b"hello")
    assert await receive_exactly(upstream, 5) == b"hello"
    await upstream.send_all(b"HELLO, YOU")
    assert await receive_exactly(client, 10) == b"HELLO, YOU"
    await client.send_eof()
    assert await upstream.receive_some(10) == b""  # the FIN passed on
    await upstream.send_all(b"bye")  # the other way is still open
    assert await receive_exactly(client, 3) == b"bye"
    await upstream.send_eof()
    assert await client.receive_some(10) == b""
    assert await relayed.wait() == RelayResult(bytes_up=5, bytes_down=13, reason="done")


async def test_each_direction_passes_its_chunks_through_its_pipe(nursery: trio.Nursery) -> None:
    client, client_side = memory_pair()
    upstream, upstream_side = memory_pair()
    seen: list[bytes] = []

    async def shout(chunk: bytes, send: Send) -> None:
        seen.append(chunk)
        await send(chunk.upper())

    async def drop(chunk: bytes, send: Send) -> None:
        return None

    relayed = Relayed(nursery, client_side, upstream_side, upward=shout, downward=drop)
    await client.send_all(b"quiet please")
    assert await receive_exactly(upstream, 12) == b"QUIET PLEASE"
    await upstream.send_all(b"never seen")
    await upstream.send_eof()
    await client.send_eof()
    assert await client.receive_some(10) == b""  # dropped chunk, then the FIN
    assert await relayed.wait() == RelayResult(bytes_up=12, bytes_down=0, reason="done")
    assert seen == [b"quiet please"]


async def test_nothing_moving_for_the_idle_timeout_ends_the_relay(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _client, client_side = memory_pair()
    _upstream, upstream_side = memory_pair()
    started = trio.current_time()
    result = await relay(client_side, upstream_side, idle_timeout=IDLE)
    assert result.reason == "idle-timeout"
    assert trio.current_time() - started == pytest.approx(IDLE)


@pytest.mark.parametrize("side", ["client", "upstream"])
async def test_a_reset_is_passed_on_and_named_by_its_side(
    side: str, nursery: trio.Nursery
) -> None:
    async with tcp_pair() as (client, client_side), tcp_pair() as (upstream, upstream_side):
        relayed = Relayed(nursery, client_side, upstream_side)
        await client.send_all(b"hello")
        assert await receive_exactly(upstream, 5) == b"hello"
        resetting, other = (client, upstream) if side == "client" else (upstream, client)
        reset(resetting)
        await resetting.aclose()
        assert (await relayed.wait()).reason == f"{side}-reset"
        # The streams' owners close them after the relay: that close resets.
        await client_side.aclose()
        await upstream_side.aclose()
        with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
            while await other.receive_some(10):
                pass


async def test_a_client_that_never_reads_ends_the_relay_after_the_send_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Lockstep: a send completes only when the other end reads, as on a full TCP window.
    _client, client_side = trio.testing.lockstep_stream_pair()
    upstream, upstream_side = memory_pair()
    await upstream.send_all(b"you will never read this")
    started = trio.current_time()
    result = await relay(client_side, upstream_side,  # type: ignore[arg-type]
                         idle_timeout=IDLE, send_timeout=5.0)
    assert result.reason == "client-send-timeout"
    assert trio.current_time() - started == pytest.approx(5.0)


async def test_a_direction_s_flush_sends_what_its_pipe_held_before_the_fin(
    nursery: trio.Nursery,
) -> None:
    client, client_side = memory_pair()
    upstream, upstream_side = memory_pair()
    held: list[bytes] = []

    async def hold(chunk: bytes, send: Send) -> None:
        held.append(chunk)

    async def flush(send: Send) -> None:
        await send(b"".join(held))

    relayed = Relayed(nursery, client_side, upstream_side, upward=hold, upward_flush=flush)
    await client.send_all(b"kept ")
    await client.send_all(b"back")
    await client.send_eof()
    await upstream.send_eof()
    assert await receive_exactly(upstream, 9) == b"kept back"
    assert await upstream.receive_some(10) == b""
    assert (await relayed.wait()).bytes_up == 9
