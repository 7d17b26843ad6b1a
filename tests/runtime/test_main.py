"""run_server: signals start a graceful shutdown; the stats port serves counters."""

from __future__ import annotations

import json
import os
import signal
from functools import partial

import trio

from services.runtime import Counters, Lifecycle, ServerConfig, serve
from services.runtime.main import run_server, serve_stats
from tests.runtime.test_serve import LOGGER, EchoServer
from tests.support.waiting import receive_exactly, wait_for


async def test_sigterm_drains_and_run_server_returns() -> None:
    server = EchoServer()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            port = await nursery.start(
                partial(
                    run_server, server.run, lifecycle=server.lifecycle, counters=server.counters,
                    logger=LOGGER, stats_host="127.0.0.1", stats_port=None,
                )
            )
            async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
                await wait_for(lambda: server.counters.connections_open == 1)
                os.kill(os.getpid(), signal.SIGTERM)
                assert await receive_exactly(stream, 4) == b"bye\n"
    assert server.lifecycle.reason == "SIGTERM"
    assert server.lifecycle.stopped.is_set()


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


async def test_serve_reports_its_port_and_frees_it_after_shutdown() -> None:
    lifecycle = Lifecycle()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(
            partial(
                serve, _noop, ServerConfig(port=0), counters=Counters(),
                lifecycle=lifecycle, logger=LOGGER,
            )
        )
        assert port > 0
        lifecycle.request_shutdown()
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    for listener in listeners:
        await listener.aclose()


async def _noop(conn: object) -> None:
    return None
