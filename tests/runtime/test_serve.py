"""serve over loopback: echo, limits, idle peers, graceful shutdown, the grace period."""

from __future__ import annotations

import logging
from typing import Any

import trio

from services.runtime import (
    Counters,
    Lifecycle,
    PeerConnection,
    RuntimeFailure,
    ServerConfig,
    serve,
)
from tests.support.waiting import receive_exactly, wait_for

LOGGER = logging.getLogger("netlab.test")


class EchoServer:
    """An echo handler that says ``bye`` when the server drains."""

    def __init__(self, **overrides: Any) -> None:
        self.config = ServerConfig(port=0, **overrides)
        self.counters = Counters()
        self.lifecycle = Lifecycle()
        self.failures: list[str] = []

    async def handle(self, conn: PeerConnection) -> None:
        try:
            async with conn.session(), trio.open_nursery() as nursery:

                async def farewell() -> None:
                    await self.lifecycle.draining.wait()
                    conn.send_nowait(b"bye\n")
                    nursery.cancel_scope.cancel()

                nursery.start_soon(farewell)
                while data := await conn.receive():
                    await conn.send(data)
                nursery.cancel_scope.cancel()
        except RuntimeFailure as exc:
            self.failures.append(exc.reason)

    async def refuse(self, conn: PeerConnection) -> None:
        await conn.stream.send_all(b"full\n")

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        await serve(
            self.handle,
            self.config,
            counters=self.counters,
            lifecycle=self.lifecycle,
            logger=LOGGER,
            refuse=self.refuse,
            task_status=task_status,
        )


async def test_echo_and_counters(nursery: trio.Nursery) -> None:
    server = EchoServer()
    port = await nursery.start(server.run)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"hello")
    assert await receive_exactly(stream, 5) == b"hello"
    await stream.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.connections_total == 1
    assert server.counters.bytes_in == 5
    assert server.counters.bytes_out == 5
    assert server.counters.tasks_open == 0


async def test_max_clients_refuses_with_a_reason(nursery: trio.Nursery) -> None:
    server = EchoServer(max_clients=1)
    port = await nursery.start(server.run)
    async with await trio.open_tcp_stream("127.0.0.1", port) as first:
        await first.send_all(b"x")
        assert await receive_exactly(first, 1) == b"x"
        async with await trio.open_tcp_stream("127.0.0.1", port) as second:
            assert await receive_exactly(second, 5) == b"full\n"
    assert server.counters.connections_refused == 1


async def test_idle_peer_times_out(nursery: trio.Nursery) -> None:
    server = EchoServer(idle_timeout=0.2)
    port = await nursery.start(server.run)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        assert await receive_exactly(stream, 1) == b""
    assert server.failures == ["timeout"]


async def test_graceful_shutdown_tells_clients_and_returns(nursery: trio.Nursery) -> None:
    server = EchoServer()
    port = await nursery.start(server.run)
    streams = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(3)]
    await wait_for(lambda: server.counters.connections_open >= 3)
    server.lifecycle.request_shutdown("test")
    for stream in streams:
        assert await receive_exactly(stream, 5) == b"bye\n"
        await stream.aclose()
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    assert server.counters.tasks_open == 0


async def test_grace_period_cancels_stuck_handlers(nursery: trio.Nursery) -> None:
    config = ServerConfig(port=0, grace_period=0.3)
    counters, lifecycle = Counters(), Lifecycle()

    async def stuck(conn: PeerConnection) -> None:
        await trio.sleep_forever()

    port = await nursery.start(
        lambda task_status: serve(stuck, config, counters=counters, lifecycle=lifecycle,
                                  logger=LOGGER, task_status=task_status)
    )
    async with await trio.open_tcp_stream("127.0.0.1", port):
        await wait_for(lambda: counters.connections_open >= 1)
        lifecycle.request_shutdown("test")
        with trio.fail_after(5):
            await lifecycle.stopped.wait()
    assert counters.tasks_open == 0
