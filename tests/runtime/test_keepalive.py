"""Keepalive: the setting, the options every accepted socket gets, and dead peers given up.

Two behaviours are tested over loopback. A peer that stops acknowledging
cannot be made there without dropping packets; what can: a peer whose
receive window stays shut (``TCP_USER_TIMEOUT`` also bounds zero-window
probes, Linux ≥ 5.13), and a peer that vanished without a FIN (its socket
closed in repair mode, which needs ``CAP_NET_ADMIN``: skipped without it),
whose kernel answers the first keepalive probe with a reset.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import click
import pytest
import trio
from click.testing import CliRunner

from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.context import ServiceContext
from services.runtime.keepalive import keepalive_options, set_keepalive
from services.runtime.options import build_config, config_options
from services.runtime.server import Server
from tests.support.keepalive import keepalive_of
from tests.support.waiting import wait_for

LOGGER = logging.getLogger("netlab.test")
Context = ServiceContext[ServerConfig]
TCP_REPAIR = getattr(socket, "TCP_REPAIR", 19)  # Linux's value; Python 3.11 lacks the name
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="Linux socket options")


class Recorder(Server[ServerConfig, Context]):
    """Records each accepted socket's keepalive options, then serves until the peer closes."""

    service = "test"
    context_type = Context

    def __init__(self, config: ServerConfig) -> None:
        super().__init__(config, logger=LOGGER)
        self.seen: list[dict[str, int]] = []

    async def serve_connection(self, conn: PeerConnection) -> None:
        self.seen.append(keepalive_of(conn.stream.socket))  # type: ignore[attr-defined]
        while await conn.receive():
            pass


class Firehose(Server[ServerConfig, Context]):
    """Sends to each client until the connection fails."""

    service = "test"
    context_type = Context

    async def serve_connection(self, conn: PeerConnection) -> None:
        while True:
            await conn.send(b"x" * 65536)


# -- the setting --------------------------------------------------------------------------

def test_keepalive_is_on_by_default_and_bounds_a_dead_peer_to_its_seconds() -> None:
    assert ServerConfig().keepalive == 30.0
    values = {name: value for name, (_, _, value) in keepalive_options(30).items()}
    # Probes after 15 s of silence, then every 5 s: the third unanswered one is at 30 s,
    # as is the user timeout (which decides on Linux).
    assert values == {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 15, "TCP_KEEPINTVL": 5,
                      "TCP_KEEPCNT": 3, "TCP_USER_TIMEOUT": 30_000}


def test_short_keepalives_probe_every_second_at_most() -> None:
    values = {name: value for name, (_, _, value) in keepalive_options(1.5).items()}
    assert (values["TCP_KEEPIDLE"], values["TCP_KEEPINTVL"]) == (1, 1)
    assert values["TCP_USER_TIMEOUT"] == 1500


def test_zero_means_no_option_at_all() -> None:
    assert keepalive_options(0) == {}
    assert ServerConfig(keepalive=0).keepalive == 0


@pytest.mark.parametrize("seconds", [-1.0, 0.5, 65535.0, 86400.0])
def test_keepalives_the_kernel_cannot_take_are_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="keepalive"):
        ServerConfig(keepalive=seconds)


def parse(args: list[str], env: dict[str, str] | None = None) -> tuple[int, list[ServerConfig]]:
    built: list[ServerConfig] = []

    @click.command()
    @config_options(ServerConfig)
    def serve(**options: Any) -> None:
        built.append(build_config(ServerConfig, options))

    return CliRunner().invoke(serve, args, env=env).exit_code, built


def test_keepalive_is_an_option_and_an_env_var() -> None:
    assert parse(["--keepalive", "0"]) == (0, [ServerConfig(keepalive=0)])
    assert parse([], env={"NETLAB_KEEPALIVE": "12"}) == (0, [ServerConfig(keepalive=12)])
    assert parse(["--keepalive", "-1"]) == (2, [])
    assert parse(["--keepalive", "0.2"]) == (2, [])


def test_a_stream_without_a_socket_or_a_closed_socket_gets_nothing() -> None:
    assert set_keepalive(None, 30) == {}
    sock = socket.socket()
    sock.close()
    assert set_keepalive(sock, 30) == {}


# -- accepted sockets -----------------------------------------------------------------------

async def connect_and_record(nursery: trio.Nursery, config: ServerConfig) -> dict[str, int]:
    server = Recorder(config)
    port = await nursery.start(server.run)
    async with await trio.open_tcp_stream("127.0.0.1", port):
        await wait_for(lambda: len(server.seen) == 1)
    return server.seen[0]


@linux_only
async def test_every_accepted_socket_gets_the_keepalive_options(nursery: trio.Nursery) -> None:
    assert await connect_and_record(nursery, ServerConfig(keepalive=12)) == {
        "SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 6, "TCP_KEEPINTVL": 2, "TCP_KEEPCNT": 3,
        "TCP_USER_TIMEOUT": 12_000,
    }


@linux_only
async def test_keepalive_zero_leaves_accepted_sockets_as_the_kernel_made_them(
    nursery: trio.Nursery,
) -> None:
    seen = await connect_and_record(nursery, ServerConfig(keepalive=0))
    assert (seen["SO_KEEPALIVE"], seen["TCP_USER_TIMEOUT"]) == (0, 0)


# -- dead peers ----------------------------------------------------------------------------

async def shut_window_client(port: int) -> trio.socket.SocketType:
    """A client that never reads, with a tiny receive buffer: its window closes at once."""
    sock = trio.socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    return sock


@linux_only
async def test_a_peer_that_acknowledges_nothing_more_is_reset_after_the_keepalive(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture,
) -> None:
    # send_timeout far away: only the user timeout can end the connection this soon.
    server = Firehose(ServerConfig(keepalive=1, send_timeout=60), logger=LOGGER)
    port = await nursery.start(server.run)
    with caplog.at_level(logging.INFO, logger=LOGGER.name), await shut_window_client(port):
        await wait_for(lambda: server.counters.errors == 1, timeout=10)
    assert server.counters.errors_by_reason == {"reset": 1}
    await wait_for(lambda: server.counters.connections_open == 0)
    [logged] = [m for m in caplog.messages if m.startswith("event=connection-error ")]
    assert "reason=reset" in logged
    assert "peer stopped answering" in logged


@linux_only
async def test_without_keepalive_a_shut_window_holds_the_connection(
    nursery: trio.Nursery,
) -> None:
    server = Firehose(ServerConfig(keepalive=0, send_timeout=60), logger=LOGGER)
    port = await nursery.start(server.run)
    with await shut_window_client(port):
        await trio.sleep(2.5)  # past when keepalive=1 gives up (about 1.3 s)
        assert (server.counters.connections_open, server.counters.errors) == (1, 0)


@linux_only
async def test_a_peer_that_vanished_without_a_fin_is_found_by_the_first_probe(
    nursery: trio.Nursery,
) -> None:
    server = Recorder(ServerConfig(keepalive=2))  # probes after 1 s; idle timeout 300 s
    port = await nursery.start(server.run)
    client = trio.socket.socket()
    await client.connect(("127.0.0.1", port))
    await wait_for(lambda: len(server.seen) == 1)
    try:
        # In repair mode, close sends nothing: the peer is gone as a dead machine is.
        client.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    except PermissionError:
        client.close()
        pytest.skip("TCP_REPAIR needs CAP_NET_ADMIN")
    client.close()
    await wait_for(lambda: server.counters.errors == 1, timeout=10)
    assert server.counters.errors_by_reason == {"reset": 1}
    await wait_for(lambda: server.counters.connections_open == 0)
