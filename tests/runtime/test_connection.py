"""PeerConnection: sending (the flusher, a writer only for a full socket, batching, flushing),
the farewell, parsers fed until they have an event."""
from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from services.runtime import Counters, PeerConnection, PeerTimeout, ServerConfig, SlowConsumer
from services.runtime.errors import PeerReset
from services.runtime.flusher import Flusher
from services.wire.errors import RemoteProtocolError
from services.wire.lines import LineDecoder
from services.wire.sentinels import CLOSED, Closed, EventSource, NeedData

LOGGER = logging.getLogger("netlab.test")


class Lines(EventSource[str]):
    """A line parser as the sessions use one (events out, NEED_DATA, CLOSED)."""

    def __init__(self) -> None:
        self.decoder = LineDecoder(max_line=8)
        self.fed: list[bytes] = []

    def receive_data(self, data: bytes) -> None:
        self.fed.append(data)
        self.decoder.receive_data(data)

    def next_event(self) -> str | NeedData | Closed:
        return self.decoder.next_line()


def connection(
    *, idle_timeout: float = 300.0
) -> tuple[trio.abc.HalfCloseableStream, PeerConnection]:
    client, server_end = trio.testing.memory_stream_pair()
    conn = PeerConnection(server_end, config=ServerConfig(idle_timeout=idle_timeout),
                          counters=Counters(), logger=LOGGER)
    return client, conn


async def test_next_event_receives_until_the_parser_has_an_event() -> None:
    client, conn = connection()
    lines = Lines()
    await client.send_all(b"he")
    async with trio.open_nursery() as nursery:
        result: list[str | Closed] = []

        async def read() -> None:
            result.append(await conn.next_event(lines))

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        assert result == []
        await client.send_all(b"llo\nrest")
    assert result == ["hello"]
    assert b"".join(lines.fed) == b"hello\nrest"
    assert conn.counters.bytes_in == len(b"hello\nrest")


async def test_next_event_returns_closed_at_the_peers_eof() -> None:
    client, conn = connection()
    await client.send_all(b"last\n")
    await client.aclose()
    lines = Lines()
    assert await conn.next_event(lines) == "last"
    assert await conn.next_event(lines) is CLOSED


async def test_next_event_passes_the_parsers_error_on() -> None:
    client, conn = connection()
    await client.send_all(b"far too long\n")
    with pytest.raises(RemoteProtocolError):
        await conn.next_event(Lines())


async def test_next_event_waits_at_most_the_timeout(autojump_clock: trio.testing.MockClock) -> None:
    _client, conn = connection(idle_timeout=30.0)
    start = trio.current_time()
    with pytest.raises(PeerTimeout):
        await conn.next_event(Lines(), timeout=2.0)
    assert trio.current_time() - start == pytest.approx(2.0)


async def test_abort_ends_session_with_farewell() -> None:
    client, server_end = trio.testing.lockstep_stream_pair()
    received = bytearray()

    async def reader() -> None:
        while data := await client.receive_some():
            received.extend(data)

    async with trio.open_nursery() as nursery:
        conn = PeerConnection(
            server_end,
            config=ServerConfig(queue_size=2),
            counters=Counters(),
            logger=LOGGER,
            flusher=Flusher(nursery),
        )
        nursery.start_soon(reader)
        try:
            async with conn.session():
                assert conn.send_nowait(b"a")
                conn.abort(SlowConsumer("queue full"), farewell=b"bye")
                await trio.sleep_forever()
        except SlowConsumer:
            pass
        else:
            raise AssertionError("session should raise the recorded failure")
        await server_end.aclose()
    assert bytes(received) == b"bye"


class Recording(trio.abc.HalfCloseableStream):
    """A stream that records each ``send_all`` (optionally failing) and never receives."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sends: list[bytes] = []
        self.fail = fail

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self.fail is not None:
            raise self.fail
        self.sends.append(bytes(data))

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def send_eof(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


def recording_connection(nursery: trio.Nursery, stream: Recording,
                         queue_size: int = 256) -> PeerConnection:
    return PeerConnection(stream, config=ServerConfig(queue_size=queue_size),
                          counters=Counters(), logger=LOGGER, flusher=Flusher(nursery))


async def test_an_idle_connection_runs_no_writer_task() -> None:
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        async with conn.session():
            await trio.testing.wait_all_tasks_blocked()
            assert nursery.child_tasks == set()
            assert conn.send_nowait(b"one\n")
            assert len(nursery.child_tasks) == 1  # the writer, while something is queued
            await trio.testing.wait_all_tasks_blocked()
            assert nursery.child_tasks == set()  # and gone once the queue is empty
            assert stream.sends == [b"one\n"]


async def test_lines_queued_in_one_pass_go_out_in_one_send() -> None:
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        async with conn.session():
            for line in (b"a\n", b"b\n", b"c\n"):
                assert conn.send_nowait(line)
        assert stream.sends == [b"a\nb\nc\n"]
        assert conn.queued == 3 and conn.queued_bytes == 0
        assert conn.counters.bytes_out == 6


async def test_the_session_sends_what_is_queued_before_it_returns() -> None:
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        async with conn.session():
            conn.send_nowait(b"last words\n")
        # No checkpoint since: the flush happened inside the session's exit.
        assert stream.sends == [b"last words\n"]


async def test_a_full_queue_refuses_and_send_waits_for_room() -> None:
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream, queue_size=2)
        async with conn.session():
            assert conn.send_nowait(b"1") and conn.send_nowait(b"2")
            assert not conn.send_nowait(b"3")
            await conn.send(b"3")  # waits until the writer takes the first two
        assert b"".join(stream.sends) == b"123"


async def test_send_with_room_queues_before_another_task_runs() -> None:
    # Like a memory channel's send: with room, the bytes are queued before send() yields,
    # so what another task queues once it runs goes after them (an exec command's output,
    # then its EXIT). Each round wakes the other task just before send() is called.
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        async with conn.session(), trio.open_nursery() as others:
            for _ in range(20):
                go = trio.Event()

                async def other(go: trio.Event = go) -> None:
                    await go.wait()
                    assert conn.send_nowait(b"2")

                others.start_soon(other)
                await trio.testing.wait_all_tasks_blocked()
                go.set()
                await conn.send(b"1")
                await trio.testing.wait_all_tasks_blocked()
    assert b"".join(stream.sends) == b"12" * 20


async def test_end_stops_the_body_and_still_sends_what_is_queued() -> None:
    stream = Recording()
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        async with conn.session():
            conn.send_nowait(b"bye\n")
            conn.end()
            await trio.sleep_forever()
    assert stream.sends == [b"bye\n"]
    assert conn.failure is None


async def test_a_broken_peer_ends_the_session_with_a_reset() -> None:
    stream = Recording(fail=trio.BrokenResourceError("gone"))
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        with pytest.raises(PeerReset):
            async with conn.session():
                conn.send_nowait(b"x")
                await trio.sleep_forever()
        assert nursery.child_tasks == set()


async def test_a_bug_in_the_writer_comes_out_of_the_session_not_the_shared_nursery() -> None:
    stream = Recording(fail=ZeroDivisionError("a bug"))
    async with trio.open_nursery() as nursery:
        conn = recording_connection(nursery, stream)
        with pytest.raises(ZeroDivisionError):
            async with conn.session():
                conn.send_nowait(b"x")
                await trio.sleep_forever()


async def test_a_session_needs_a_flusher() -> None:
    _client, conn = connection()
    with pytest.raises(RuntimeError):
        conn.session()


async def socket_connection(nursery: trio.Nursery, flusher: Flusher,
                            ) -> tuple[trio.SocketStream, PeerConnection]:
    left, right = trio.socket.socketpair()
    conn = PeerConnection(trio.SocketStream(left), config=ServerConfig(queue_size=10_000),
                          counters=Counters(), logger=LOGGER, flusher=flusher)
    return trio.SocketStream(right), conn


async def read_exactly(stream: trio.SocketStream, size: int) -> bytes:
    data = bytearray()
    with trio.fail_after(10):
        while len(data) < size:
            data += await stream.receive_some()
    return bytes(data)


async def test_one_flusher_writes_every_connections_lines_in_one_pass() -> None:
    async with trio.open_nursery() as nursery:
        flusher = Flusher(nursery)
        pairs = [await socket_connection(nursery, flusher) for _ in range(3)]
        for i, (_peer, conn) in enumerate(pairs):
            for line in range(3):
                conn.send_nowait(b"%d.%d\n" % (i, line))
        assert len(nursery.child_tasks) == 1  # the flusher: no writer task per connection
        for i, (peer, conn) in enumerate(pairs):
            assert await read_exactly(peer, 12) == b"%d.0\n%d.1\n%d.2\n" % (i, i, i)
            assert conn.queued_bytes == 0 and conn.counters.bytes_out == 12
            await peer.aclose()
            await conn.aclose()


async def test_a_full_socket_gets_a_writer_that_waits_for_the_peer() -> None:
    async with trio.open_nursery() as nursery:
        peer, conn = await socket_connection(nursery, Flusher(nursery))
        chunk = bytes(range(256)) * 256  # 64 KiB: a few fill the socket's buffers
        async with conn.session():
            for _ in range(64):
                conn.send_nowait(chunk)
            await trio.testing.wait_all_tasks_blocked()
            assert len(nursery.child_tasks) == 1  # the writer, waiting for the peer to read
            received = await read_exactly(peer, 64 * len(chunk))
        assert received == chunk * 64
        assert conn.queued_bytes == 0
        await peer.aclose()
        await conn.aclose()
