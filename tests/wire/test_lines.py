"""LineDecoder: byte tables, every segmentation, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.wire import CLOSED, NEED_DATA, ErrorCode, RemoteProtocolError
from services.wire.lines import LineDecoder, encode_line
from tests.support.segments import split


def drain(decoder: LineDecoder) -> list[object]:
    """All events available now; errors appear in the list as their code."""
    events: list[object] = []
    while True:
        try:
            event = decoder.next_line()
        except RemoteProtocolError as exc:
            events.append(exc.code)
            continue
        if event is NEED_DATA or event is CLOSED:
            events.append(event)
            return events
        events.append(event)


def feed_all(chunks: list[bytes], max_line: int = 16) -> list[object]:
    decoder = LineDecoder(max_line)
    events: list[object] = []
    for chunk in [*(c for c in chunks if c), b""]:
        decoder.receive_data(chunk)
        events.extend(e for e in drain(decoder) if e is not NEED_DATA)
    return events


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello\n", ["hello", CLOSED]),
        (b"a\r\nb\n", ["a", "b", CLOSED]),
        (b"\n", ["", CLOSED]),
        (b"tail", ["tail", CLOSED]),
        ("héllo\n".encode(), ["héllo", CLOSED]),
        (b"\xff\xfe\nok\n", [ErrorCode.BAD_ENCODING, "ok", CLOSED]),
        (b"x" * 17 + b"\nok\n", [ErrorCode.LINE_TOO_LONG, "ok", CLOSED]),
        (b"x" * 16 + b"\r\n", ["x" * 16, CLOSED]),
        (b"x" * 16 + b"\r", ["x" * 16, CLOSED]),
        (b"", [CLOSED]),
    ],
)
def test_byte_table(data: bytes, expected: list[object]) -> None:
    assert feed_all([data]) == expected


def test_needs_data_until_newline() -> None:
    decoder = LineDecoder()
    decoder.receive_data(b"partial")
    assert decoder.next_line() is NEED_DATA
    decoder.receive_data(b" line\n")
    assert decoder.next_line() == "partial line"


def test_endless_line_is_refused_without_buffering_it() -> None:
    decoder = LineDecoder(max_line=100)
    decoder.receive_data(b"y" * 102)
    with pytest.raises(RemoteProtocolError) as info:
        decoder.next_line()
    assert info.value.code is ErrorCode.LINE_TOO_LONG
    for _ in range(100):
        decoder.receive_data(b"y" * 1000)
        assert decoder.next_line() is NEED_DATA
        assert decoder.buffered == 0
    decoder.receive_data(b"end\nnext\n")
    assert decoder.next_line() == "next"


def test_encode_line_round_trip() -> None:
    decoder = LineDecoder()
    decoder.receive_data(encode_line("ünïcode"))
    assert decoder.next_line() == "ünïcode"
    with pytest.raises(ValueError):
        encode_line("two\nlines")



stream_bytes = st.lists(
    st.one_of(
        st.text(max_size=20).map(lambda t: t.replace("\n", " ").encode() + b"\n"),
        st.binary(max_size=40),
        st.just(b"\r\n"),
    ),
    max_size=12,
).map(b"".join)


@given(stream_bytes, st.lists(st.integers(min_value=0), max_size=20))
def test_every_segmentation_yields_the_same_events(data: bytes, cuts: list[int]) -> None:
    assert feed_all(split(data, cuts)) == feed_all([data])


@given(st.lists(st.binary(max_size=64), max_size=20), st.integers(min_value=1, max_value=64))
def test_garbage_only_raises_protocol_errors(chunks: list[bytes], max_line: int) -> None:
    events = feed_all(chunks, max_line=max_line)
    assert events[-1] is CLOSED
