"""The gateway: routes, banner, its CLI, and relaying over loopback with counters.

The relay itself (half-close, resets, the pipe seam) is tested in ``test_relay.py``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from lab.gateway import cli as gateway_cli
from lab.gateway.banner import HINTS, banner
from lab.gateway.routes import PublicAddress, Route, RouteError, check_routes
from lab.gateway.server import Gateway, GatewayConfig
from lab.proxy.client import ControlError, ProxyClient
from lab.proxy.toxics import Latency
from netlab.cli import main
from services.runtime.main import run_server
from tests.support.commands import recorded_main
from tests.support.keepalive import keepalive_of
from tests.support.ports import free_port
from tests.support.waiting import receive_exactly, wait_for


def test_route_parses_listen_port_and_upstream() -> None:
    assert Route.parse("8001=exec:8000") == Route(8001, "exec", 8000)
    assert Route.parse("8001=exec:8000").name == "exec"


def test_a_route_may_name_its_proxy() -> None:
    route = Route.parse("sandbox@8001=10.0.0.5:8000")
    assert route == Route(8001, "10.0.0.5", 8000, proxy_name="sandbox")
    assert route.name == "sandbox"


@pytest.mark.parametrize("text", ["8000", "8000=chat", "x=chat:8000", "8000=chat:0", "8000=:1",
                                  "@8000=chat:8000", "a b@8000=chat:8000", "8000=[::1]"])
def test_bad_routes_are_refused(text: str) -> None:
    with pytest.raises(RouteError):
        Route.parse(text)


def test_duplicate_listen_ports_names_and_orphan_public_addresses_are_refused() -> None:
    with pytest.raises(RouteError, match="listen port"):
        check_routes([Route(1, "a", 2), Route(1, "b", 2)], [])
    with pytest.raises(RouteError, match="name"):
        check_routes([Route(1, "a", 2), Route(3, "a", 4)], [])
    check_routes([Route(1, "a", 2), Route(3, "a", 4, proxy_name="b")], [])
    with pytest.raises(RouteError, match="without a route"):
        check_routes([Route(1, "a", 2)], [PublicAddress(3, "127.0.0.1", 3)])


def test_banner_shows_public_addresses_and_client_commands() -> None:
    text = banner((Route(8001, "exec", 8000),), (PublicAddress(8001, "127.0.0.1", 18001),))
    assert "exec    127.0.0.1:18001" in text
    assert "netlab exec run --host 127.0.0.1 --port 18001" in text


def test_banner_says_every_service_listens_on_its_own_port_inside_the_lab() -> None:
    routes = (Route(8000, "chat", 8000), Route(8002, "upload", 8000))
    public = (PublicAddress(8000, "127.0.0.1", 8000), PublicAddress(8002, "127.0.0.1", 8002))
    lines = banner(routes, public).splitlines()
    assert "Inside the lab network (client containers) they are chat:8000, upload:8000." in lines


class Upstream:
    """A loopback server whose per-connection behaviour a test chooses."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.received = bytearray()
        self.saw_eof = trio.Event()
        self.saw_reset = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self.behaviour == "reset":
                await stream.receive_some(1024)
                stream.socket.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                return
            if self.behaviour == "stall":  # accepts, never reads: its window closes
                await trio.sleep_forever()
            if self.behaviour == "watch":
                try:
                    while await stream.receive_some(1024):
                        pass
                except trio.BrokenResourceError:
                    self.saw_reset.set()
                return
            # "upper": echo upper-cased until EOF, then say goodbye and close.
            while data := await stream.receive_some(65536):
                self.received += data
                await stream.send_all(data.upper())
            self.saw_eof.set()
            await stream.send_all(b"BYE")


@asynccontextmanager
async def running(
    behaviour: str, **settings: Any
) -> AsyncIterator[tuple[Upstream, Gateway, int]]:
    upstream = Upstream(behaviour)
    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(
            partial(trio.serve_tcp, upstream.handle, 0, host="127.0.0.1")
        )
        up_port = listener.socket.getsockname()[1]
        config = GatewayConfig(
            host="127.0.0.1", routes=(Route(0, "127.0.0.1", up_port, proxy_name="upper"),),
            grace_period=0.5, connect_timeout=2.0, banner=False, **settings,
        )
        gateway = Gateway(config)
        (port,) = await nursery.start(gateway.run)
        yield upstream, gateway, port
        gateway.lifecycle.request_shutdown("test")
        nursery.cancel_scope.cancel()


async def test_bytes_flow_both_ways_and_are_counted() -> None:
    async with running("upper") as (upstream, gateway, port):
        client = await trio.open_tcp_stream("127.0.0.1", port)
        async with client:
            payload = bytes(range(256)) * 1024
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.send_all, payload)
                echoed = await receive_exactly(client, len(payload))
            assert echoed == payload.upper()
            await client.send_eof()
            assert await receive_exactly(client, 3) == b"BYE"
            assert await client.receive_some(10) == b""
        await wait_for(lambda: gateway.counters.bytes_out == len(payload) + 3)
        assert gateway.counters.bytes_in == len(payload)
        assert upstream.received == payload


async def test_an_upstream_reset_resets_the_client() -> None:
    async with running("reset") as (_upstream, gateway, port):
        async with await trio.open_tcp_stream("127.0.0.1", port) as client:
            await client.send_all(b"hello")
            with trio.fail_after(5), pytest.raises(trio.BrokenResourceError):
                while await client.receive_some(10):
                    pass
        await wait_for(lambda: gateway.counters.errors_by_reason["upstream-reset"] == 1)


async def test_a_client_reset_resets_the_upstream() -> None:
    async with running("watch") as (upstream, gateway, port):
        client = await trio.open_tcp_stream("127.0.0.1", port)
        await client.send_all(b"hello")
        await wait_for(lambda: gateway.counters.extra["upper.connections"] == 1)
        client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await client.aclose()
        with trio.fail_after(5):
            await upstream.saw_reset.wait()
        await wait_for(lambda: gateway.counters.errors_by_reason["client-reset"] == 1)


async def test_both_ends_of_a_relay_get_the_keepalive(monkeypatch: pytest.MonkeyPatch) -> None:
    client_sides: list[dict[str, int]] = []
    upstream_sides: list[trio.SocketStream] = []
    handle, open_tcp_stream = Gateway.handle, trio.open_tcp_stream

    async def recording_handle(self: Gateway, route: Route, conn: Any) -> None:
        client_sides.append(keepalive_of(conn.stream.socket))
        await handle(self, route, conn)

    async def recording_open(host: str, port: int, **kwargs: Any) -> trio.SocketStream:
        stream = await open_tcp_stream(host, port, **kwargs)
        upstream_sides.append(stream)
        return stream

    monkeypatch.setattr(Gateway, "handle", recording_handle)
    async with running("watch", keepalive=12) as (_upstream, gateway, port):
        monkeypatch.setattr(trio, "open_tcp_stream", recording_open)  # the gateway's alone
        async with await open_tcp_stream("127.0.0.1", port) as client:
            await client.send_all(b"hello")
            await wait_for(lambda: gateway.counters.extra["upper.connections"] == 1)
            expected = {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 6, "TCP_KEEPINTVL": 2,
                        "TCP_KEEPCNT": 3, "TCP_USER_TIMEOUT": 12_000}
            assert client_sides == [expected]
            assert [keepalive_of(stream.socket) for stream in upstream_sides] == [expected]


async def test_an_upstream_that_stops_acknowledging_is_reset_after_the_keepalive() -> None:
    # The upstream's window stays shut; with send_timeout far away only the user
    # timeout (keepalive=1: 1 s) ends the relay this soon.
    async with running("stall", keepalive=1, send_timeout=60) as (_upstream, gateway, port):
        client = await trio.open_tcp_stream("127.0.0.1", port)

        async def flood() -> None:
            with contextlib.suppress(trio.BrokenResourceError):
                while True:
                    await client.send_all(b"x" * 65536)

        async with client, trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            await wait_for(lambda: gateway.counters.errors_by_reason["upstream-reset"] == 1,
                           timeout=10)
            nursery.cancel_scope.cancel()


async def test_an_unreachable_upstream_closes_the_client_and_is_counted() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    config = GatewayConfig(host="127.0.0.1", routes=(Route(0, "127.0.0.1", dead_port),),
                           connect_timeout=2.0, banner=False)
    gateway = Gateway(config)
    async with trio.open_nursery() as nursery:
        (port,) = await nursery.start(gateway.run)
        async with await trio.open_tcp_stream("127.0.0.1", port) as client:
            with trio.fail_after(5):
                assert await client.receive_some(10) == b""
        assert gateway.counters.errors_by_reason["upstream-unreachable"] == 1
        gateway.lifecycle.request_shutdown("test")
    assert gateway.lifecycle.is_draining


async def test_shutdown_stops_accepting_and_returns() -> None:
    async with running("upper") as (_upstream, gateway, port):
        gateway.lifecycle.request_shutdown("test")
        with trio.fail_after(5):
            await gateway.lifecycle.stopped.wait()
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", port)


async def test_the_gateway_process_prints_its_banner_and_stops_promptly_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = GatewayConfig(host="127.0.0.1", routes=(Route(0, "chat", 8000),),
                           public=(PublicAddress(0, "127.0.0.1", 18000),), grace_period=0.5)
    gateway = Gateway(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(run_server, gateway, stats_host="127.0.0.1", stats_port=None))
        assert "chat    127.0.0.1:18000" in capsys.readouterr().out
        started = trio.current_time()
        gateway.lifecycle.request_shutdown("test")
    assert trio.current_time() - started < 1.5


@pytest.mark.parametrize(
    "hint", [h for hints in HINTS.values() for h in hints if h.startswith("netlab ")]
)
def test_every_banner_hint_is_a_real_command_with_real_options(hint: str) -> None:
    words = hint.format(host="127.0.0.1", port=8000).split()[1:]
    path = [w for w in words[: next(i for i, w in enumerate(words) if w.startswith("-"))]]
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    for option in (w for w in words if w.startswith("--") and w != "--"):
        assert option in result.output, (hint, option)


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[GatewayConfig]:
    """The configs ``netlab gateway`` would run, instead of running them."""
    return recorded_main(monkeypatch, gateway_cli, Gateway)


def test_the_cli_builds_routes_and_reads_its_own_env_vars(ran: list[GatewayConfig]) -> None:
    result = CliRunner().invoke(
        gateway_cli.cli,
        ["--route", "8000=chat:8000", "--route", "8001=exec:8000",
         "--public", "8000=127.0.0.1:18000", "--no-banner"],
        env={"NETLAB_GATEWAY_HOST": "0.0.0.0", "NETLAB_GATEWAY_STATS_PORT": "9000",
             "NETLAB_STATS_PORT": "9999"},
    )
    assert result.exit_code == 0, result.output
    assert ran == [GatewayConfig(
        host="0.0.0.0", stats_port=9000, banner=False,
        routes=(Route(8000, "chat", 8000), Route(8001, "exec", 8000)),
        public=(PublicAddress(8000, "127.0.0.1", 18000),),
    )]
    assert (ran[0].idle_timeout, ran[0].grace_period) == (900.0, 1.0)


@pytest.mark.parametrize("args", [
    ["--route", "8000"],
    ["--route", "8000=chat:8000", "--route", "8000=exec:8000"],
    ["--route", "8000=chat:8000", "--public", "8001=127.0.0.1:1"],
    ["--route", "8000=chat:8000", "--connect-timeout", "0"],
    ["--route", "8000=chat:8000", "--port", "1"],
])
def test_bad_routes_and_values_are_usage_errors(ran: list[GatewayConfig], args: list[str]) -> None:
    result = CliRunner().invoke(gateway_cli.cli, args)
    assert (result.exit_code, ran) == (2, []), result.output


async def test_each_route_has_its_own_max_clients() -> None:
    upstream = Upstream("upper")
    async with trio.open_nursery() as nursery:
        (listener,) = await nursery.start(
            partial(trio.serve_tcp, upstream.handle, 0, host="127.0.0.1")
        )
        up_port = listener.socket.getsockname()[1]
        config = GatewayConfig(
            host="127.0.0.1", max_clients=2, banner=False, grace_period=0.5,
            routes=(Route(free_port(), "127.0.0.1", up_port),
                    Route(free_port(), "localhost", up_port)),
        )
        gateway = Gateway(config)
        busy_port, other_port = await nursery.start(gateway.run)
        idle = [await trio.open_tcp_stream("127.0.0.1", busy_port) for _ in range(3)]
        await wait_for(lambda: gateway.counters.extra["127.0.0.1.refused"] == 1)
        async with await trio.open_tcp_stream("127.0.0.1", other_port) as client:
            await client.send_all(b"still served")
            assert await receive_exactly(client, 12) == b"STILL SERVED"
        assert gateway.counters.extra["localhost.refused"] == 0
        for stream in idle:
            await stream.aclose()
        gateway.lifecycle.request_shutdown("test")
        nursery.cancel_scope.cancel()


async def test_a_toxic_added_through_the_api_changes_an_open_relayed_connection() -> None:
    async with running("upper", control_port=0, control_token="t0ken") as (_up, gateway, port):
        assert gateway.control_port
        api = ProxyClient("127.0.0.1", gateway.control_port, token="t0ken")
        (proxy,) = await api.proxies()
        assert (proxy["name"], proxy["listen"]) == ("upper", f"127.0.0.1:{port}")
        async with await trio.open_tcp_stream("127.0.0.1", port) as client:
            await client.send_all(b"plain")
            assert await receive_exactly(client, 5) == b"PLAIN"
            peer = "{}:{}".format(*client.socket.getsockname()[:2])
            await api.add_toxic("upper", "limit_data", name="cut", connection=peer, bytes=3)
            await client.send_all(b"abcdef")
            assert await receive_exactly(client, 10) == b"ABC"  # cut after 3 bytes, then EOF
        await wait_for(lambda: gateway.counters.extra["upper.ended-by-toxic"] == 1)
        assert gateway.counters.errors == 0


async def test_the_control_api_asks_for_the_gateways_token() -> None:
    async with running("upper", control_port=0, control_token="t0ken") as (_up, gateway, _port):
        assert gateway.control_port
        with pytest.raises(ControlError) as caught:
            await ProxyClient("127.0.0.1", gateway.control_port).proxies()
        assert caught.value.status == 401


async def test_latency_on_a_route_delays_its_answers_and_removing_it_restores_them() -> None:
    async with running("upper") as (_upstream, gateway, port), \
            await trio.open_tcp_stream("127.0.0.1", port) as client:
        async def round_trip() -> float:
            start = trio.current_time()
            await client.send_all(b"ping")
            assert await receive_exactly(client, 4) == b"PING"
            return trio.current_time() - start

        await round_trip()
        gateway.proxies["upper"].add_toxic(Latency(name="slow", latency=300))
        assert await round_trip() >= 0.3
        gateway.proxies["upper"].remove_toxic("slow")
        assert await round_trip() < 0.3


async def test_the_stats_show_each_routes_open_connections_and_active_toxics() -> None:
    async with running("upper") as (_upstream, gateway, port):
        assert gateway.counters.snapshot()["routes"] == {
            "upper": {"open": 0, "relayed": 0, "toxics": 0}}
        gateway.proxies["upper"].add_toxic(Latency(name="slow", latency=1))
        async with await trio.open_tcp_stream("127.0.0.1", port) as client:
            await client.send_all(b"x")
            assert await receive_exactly(client, 1) == b"X"
            assert gateway.counters.snapshot()["routes"] == {
                "upper": {"open": 1, "relayed": 1, "toxics": 1}}
        await wait_for(lambda: gateway.counters.snapshot()["routes"]["upper"]["open"] == 0)


async def test_the_control_api_closes_with_the_gateway() -> None:
    async with running("upper", control_port=0) as (_upstream, gateway, _port):
        control = gateway.control_port
        assert control
        gateway.lifecycle.request_shutdown("test")
        with trio.fail_after(5):
            await gateway.lifecycle.stopped.wait()
        await wait_for(lambda: not _accepts(control))


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_cli_reads_the_control_token_from_its_env_var_only(ran: list[GatewayConfig]) -> None:
    result = CliRunner().invoke(
        gateway_cli.cli, ["--route", "8000=chat:8000", "--seed", "7"],
        env={"NETLAB_GATEWAY_CONTROL_TOKEN": "s3cret", "NETLAB_GATEWAY_CONTROL_PORT": "8474"},
    )
    assert result.exit_code == 0, result.output
    (config,) = ran
    assert (config.control_port, config.control_token, config.seed) == (8474, "s3cret", 7)
    assert "s3cret" not in repr(config)
    assert "--control-token" not in CliRunner().invoke(gateway_cli.cli, ["--help"]).output
