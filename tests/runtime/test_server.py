"""The server skeleton: handle's error logging and counting, preface sniffing and its timeout."""

from __future__ import annotations

import logging
import socket
import struct
from typing import Any

import pytest
import trio
import trio.testing

from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.context import ServiceContext
from services.runtime.counters import Counters
from services.runtime.errors import HandshakeTimeout, PeerClosed, PeerTimeout
from services.runtime.idle import IdleWaits
from services.runtime.lifecycle import Lifecycle
from services.runtime.server import Server
from services.runtime.sniff import SniffingServer, read_preface
from services.wire.errors import RemoteProtocolError
from services.wire.preface import Sniff, encode_preface
from tests.support.waiting import wait_for

LOGGER = logging.getLogger("netlab.test")
Context = ServiceContext[ServerConfig]


class FailingServer(Server[ServerConfig, Context]):
    """Each connection fails with the exception the test chose."""

    service = "test"
    context_type = Context
    failure: Exception = PeerTimeout("no data for 1 s")

    async def serve_connection(self, conn: PeerConnection) -> None:
        raise self.failure


class TwoModeServer(SniffingServer[ServerConfig, Context]):
    """Answers ``netlab:`` or ``classic:`` with the bytes after the preface."""

    service = "test"
    context_type = Context

    def error_frame(self, code: str, message: str) -> bytes:
        return f"error {code}\n".encode()

    async def serve_netlab(self, conn: PeerConnection, rest: bytes) -> None:
        await conn.send(b"netlab:" + rest)

    async def serve_classic(self, conn: PeerConnection, first: bytes) -> None:
        await conn.send(b"classic:" + first)


async def start(nursery: trio.Nursery, server: Server[Any, Any]) -> int:
    port: int = await nursery.start(server.run)
    return port


async def read_all(stream: trio.SocketStream) -> bytes:
    data = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some():
            data += chunk
    return data


@pytest.mark.parametrize(
    ("failure", "reason", "logged"),
    [
        (PeerTimeout("no data for 1 s"), "timeout", "event=connection-error "),
        (PeerClosed("connection reset"), "peer-closed", "event=connection-error "),
        (OSError(28, "No space left on device"), "io-error", "event=io-error "),
    ],
)
async def test_handle_counts_and_logs_how_a_connection_failed(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture,
    failure: Exception, reason: str, logged: str,
) -> None:
    server = FailingServer(ServerConfig(), logger=LOGGER)
    server.failure = failure
    port = await start(nursery, server)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        async with await trio.open_tcp_stream("127.0.0.1", port):
            await wait_for(lambda: server.counters.errors == 1)
    assert server.counters.errors_by_reason == {reason: 1}
    assert [line for line in caplog.messages if line.startswith(logged)]
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert "handler-crash" not in server.counters.errors_by_reason


async def test_failures_a_service_expects_are_logged_not_counted(nursery: trio.Nursery) -> None:
    class CalmServer(FailingServer):
        uncounted = (PeerClosed,)

    server = CalmServer(ServerConfig(), logger=LOGGER)
    server.failure = PeerClosed("connection reset")
    port = await start(nursery, server)
    async with await trio.open_tcp_stream("127.0.0.1", port):
        await wait_for(lambda: server.counters.connections_total == 1)
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.errors == 0


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (encode_preface("test") + b"hello", b"netlab:hello"),
        (b"hello", b"classic:hello"),
        (b"\x00netlab/1 chat\n", b"error bad-preface\n"),
    ],
)
async def test_the_first_bytes_choose_the_session(
    nursery: trio.Nursery, sent: bytes, answer: bytes
) -> None:
    server = TwoModeServer(ServerConfig(), logger=LOGGER)
    port = await start(nursery, server)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(sent)
        await stream.send_eof()
        assert await read_all(stream) == answer


async def test_a_bad_preface_is_counted(nursery: trio.Nursery) -> None:
    server = TwoModeServer(ServerConfig(), logger=LOGGER)
    port = await start(nursery, server)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"\x00netlab/2 test\n")
        await read_all(stream)
    assert server.counters.errors_by_reason == {"bad-preface": 1}


def memory_connection(config: ServerConfig) -> tuple[trio.abc.Stream, PeerConnection]:
    client, server_end = trio.testing.memory_stream_pair()
    conn = PeerConnection(server_end, config=config, counters=Counters(), logger=LOGGER)
    return client, conn


async def test_a_peer_that_never_speaks_times_out_after_the_handshake_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _client, conn = memory_connection(ServerConfig(idle_timeout=30, handshake_timeout=4))
    started = trio.current_time()
    with pytest.raises(HandshakeTimeout):
        await read_preface(conn, "test", IdleWaits(Lifecycle()))
    assert trio.current_time() - started == pytest.approx(4)


async def test_the_handshake_timeout_bounds_the_whole_preface_not_each_receive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client, conn = memory_connection(ServerConfig(handshake_timeout=10))
    started = trio.current_time()

    async def trickle() -> None:
        for byte in encode_preface("test")[:-1]:
            await client.send_all(bytes([byte]))
            await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trickle)
        with pytest.raises(HandshakeTimeout):
            await read_preface(conn, "test", IdleWaits(Lifecycle()))
        nursery.cancel_scope.cancel()
    assert trio.current_time() - started == pytest.approx(10)


async def test_a_silent_connection_is_closed_and_counted(nursery: trio.Nursery) -> None:
    server = TwoModeServer(ServerConfig(handshake_timeout=0.2), logger=LOGGER)
    port = await start(nursery, server)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        assert await read_all(stream) == b""
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.errors_by_reason == {"handshake-timeout": 1}


async def test_a_peer_stuck_inside_its_preface_times_out_too(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client, conn = memory_connection(ServerConfig(idle_timeout=30))
    await client.send_all(encode_preface("test")[:4])
    with pytest.raises(PeerTimeout):
        await read_preface(conn, "test", IdleWaits(Lifecycle()), timeout=5)


async def test_shutdown_cuts_the_preface_wait(nursery: trio.Nursery) -> None:
    lifecycle = Lifecycle()
    waits = IdleWaits(lifecycle)
    nursery.start_soon(waits.watch)
    _client, conn = memory_connection(ServerConfig())
    result: list[tuple[Sniff, bytes]] = []

    async def sniffing() -> None:
        result.append(await read_preface(conn, "test", waits))

    nursery.start_soon(sniffing)
    await trio.testing.wait_all_tasks_blocked()
    lifecycle.request_shutdown("test")
    await wait_for(lambda: bool(result))
    assert result == [(Sniff.NEED_DATA, b"")]


async def test_a_bad_preface_raises_from_read_preface() -> None:
    client, conn = memory_connection(ServerConfig())
    await client.send_all(b"\x00netlab/1 other\n")
    with pytest.raises(RemoteProtocolError):
        await read_preface(conn, "test", IdleWaits(Lifecycle()))


async def test_shutdown_closes_a_silent_connection_without_a_word(nursery: trio.Nursery) -> None:
    server = TwoModeServer(ServerConfig(), logger=LOGGER)
    port = await start(nursery, server)
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await wait_for(lambda: server.counters.connections_open == 1)
        server.lifecycle.request_shutdown("test")
        assert await read_all(stream) == b""
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    assert server.counters.errors == 0


BROWSER_POST = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 26\r\n\r\nid > /tmp/x\nid > /tmp/x\n"
)


async def test_an_http_request_is_refused_before_the_classic_session(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    server = TwoModeServer(ServerConfig(), logger=LOGGER)
    port = await start(nursery, server)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(BROWSER_POST)
            answer = await read_all(stream)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"classic:" not in answer
    assert server.counters.extra["refused_http"] == 1
    assert [line for line in caplog.messages if line.startswith("event=http-refused ")]


class ChattyServer(Server[ServerConfig, Context]):
    """Reads and writes at once, as exec and upload sessions do (a reader task, a writer)."""

    service = "test"
    context_type = Context

    async def serve_connection(self, conn: PeerConnection) -> None:
        async def read() -> None:
            while await conn.receive():
                pass

        async def write() -> None:
            while True:
                await conn.send(b"x" * 65536)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            nursery.start_soon(write)


async def test_a_reset_while_the_server_writes_is_a_connection_error_not_a_crash(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    server = ChattyServer(ServerConfig(), logger=LOGGER)
    port = await start(nursery, server)
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        for _ in range(20):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            await stream.send_all(b"go")
            await stream.receive_some(1)  # the server is writing
            stream.socket.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            await stream.aclose()
        await wait_for(lambda: server.counters.connections_total == 20)
        await wait_for(lambda: server.counters.tasks_open == 0)
    assert "handler-crash" not in server.counters.errors_by_reason
    assert server.counters.errors_by_reason["reset"] == 20
    assert not [r for r in caplog.records if r.exc_info]
    assert len([m for m in caplog.messages if m.startswith("event=connection-error ")
                and " reason=reset " in m]) == 20
