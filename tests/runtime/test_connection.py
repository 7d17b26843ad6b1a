"""PeerConnection on memory streams: the writer's farewell, parsers fed until they have an event."""

from __future__ import annotations

import logging

import pytest
import trio
import trio.testing

from services.runtime import Counters, PeerConnection, PeerTimeout, ServerConfig, SlowConsumer
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
    conn = PeerConnection(
        server_end,
        config=ServerConfig(queue_size=2),
        counters=Counters(),
        logger=LOGGER,
    )
    received = bytearray()

    async def reader() -> None:
        while data := await client.receive_some():
            received.extend(data)

    async with trio.open_nursery() as nursery:
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
