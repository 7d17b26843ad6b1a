"""A server as a process: signals start a graceful shutdown, the stats port, ``main``'s exits."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import socket
from collections.abc import Iterator
from functools import partial

import pytest
import trio

from services.runtime import Counters, Lifecycle, PeerConnection, ServerConfig, serve
from services.runtime import main as runtime_main
from services.runtime.main import main, run_server, serve_stats
from tests.support.waiting import receive_exactly, wait_for

LOGGER = logging.getLogger("netlab.test.main")


class ByeServer:
    """The smallest server ``main`` runs: says ``bye`` to each client when shutdown starts."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.counters = Counters()
        self.lifecycle = Lifecycle()
        self.logger = LOGGER

    async def handle(self, conn: PeerConnection) -> None:
        async with conn.session():
            await self.lifecycle.draining.wait()
            await conn.send(b"bye\n")

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        await serve(self.handle, self.config, counters=self.counters, lifecycle=self.lifecycle,
                    logger=self.logger, task_status=task_status)


async def test_sigterm_drains_and_run_server_returns() -> None:
    server = ByeServer(ServerConfig(port=0))
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                partial(run_server, server, stats_host="127.0.0.1", stats_port=None)
            )
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await wait_for(lambda: server.counters.connections_open == 1)
                os.kill(os.getpid(), signal.SIGTERM)
                assert await receive_exactly(stream, 4) == b"bye\n"
    assert server.lifecycle.reason == "SIGTERM"
    assert server.lifecycle.stopped.is_set()


async def test_run_server_serves_the_stats_port_until_the_server_returns() -> None:
    server = ByeServer(ServerConfig(port=0))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        stats_port = probe.getsockname()[1]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                partial(run_server, server, stats_host="127.0.0.1", stats_port=stats_port)
            )
            async with await trio.open_tcp_stream("127.0.0.1", stats_port) as stream:
                snapshot = json.loads(await receive_exactly(stream, 1 << 16))
            assert snapshot["connections_total"] == 0
            server.lifecycle.request_shutdown("test")
    with pytest.raises(OSError):  # the stats listener went with the server
        await trio.open_tcp_stream("127.0.0.1", stats_port)


async def test_stats_port_serves_a_json_snapshot(nursery: trio.Nursery) -> None:
    counters = Counters(connections_total=3, bytes_in=42)
    counters.extra["messages"] = 7
    port = await nursery.start(
        partial(serve_stats, counters, host="127.0.0.1", port=0, logger=LOGGER)
    )
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        data = await receive_exactly(stream, 1 << 16)
    snapshot = json.loads(data)
    assert snapshot["connections_total"] == 3
    assert snapshot["bytes_in"] == 42
    assert snapshot["extra"] == {"messages": 7}


def test_main_exits_1_with_one_line_when_the_port_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_main, "configure_logging", lambda level: None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = ServerConfig(port=taken.getsockname()[1])
        with pytest.raises(SystemExit) as exited:
            main(config, ByeServer)
    assert str(exited.value.code).startswith("netlab: cannot serve: ")
    assert "in use" in str(exited.value.code)


async def test_serve_reports_its_port_and_frees_it_after_shutdown() -> None:
    server = ByeServer(ServerConfig(port=0))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        assert port > 0
        server.lifecycle.request_shutdown()
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    for listener in listeners:
        await listener.aclose()


@pytest.fixture
def nofile_restored() -> Iterator[tuple[int, int]]:
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_raise_nofile_lifts_the_soft_limit_to_the_hard_one(
    nofile_restored: tuple[int, int],
) -> None:
    _soft, hard = nofile_restored
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    limit = runtime_main.raise_nofile()
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
    if hard != resource.RLIM_INFINITY:
        assert limit == hard


def test_a_limit_below_max_clients_is_a_warning(
    nofile_restored: tuple[int, int], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_main, "raise_nofile", lambda: 1024)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        runtime_main.log_nofile(ServerConfig(max_clients=10_000), LOGGER)
        runtime_main.log_nofile(ServerConfig(max_clients=100), LOGGER)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
    assert caplog.messages[0].startswith("event=nofile-too-low limit=1024 max_clients=10000 ")
    assert caplog.messages[1] == "event=nofile limit=1024 max_clients=100"
