"""FrameBuffer and JSON control payloads: tables, segmentations, limits, streaming, garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.wire import CLOSED, NEED_DATA, ErrorCode, encode_frame
from services.wire.errors import LocalProtocolError, RemoteProtocolError
from services.wire.frames import (
    Frame,
    FrameBuffer,
    FrameLimits,
    StreamPart,
    StreamStart,
    decode_json,
    encode_header,
    encode_json,
    require,
)
from tests.support.segments import split

STREAMED = 9
ANY_KIND = FrameLimits({}, other=1000)


def decode_chunks(
    chunks: list[bytes], limits: FrameLimits = ANY_KIND, streamed: frozenset[int] = frozenset()
) -> list[object]:
    """Every frame of ``chunks``, then EOF; streamed parts of one frame joined; errors as codes."""
    frames = FrameBuffer(limits, streamed)
    events: list[object] = []
    for chunk in [*(c for c in chunks if c), b""]:
        frames.receive_data(chunk)
        while True:
            try:
                event = frames.next_frame()
            except RemoteProtocolError as exc:
                events.append(exc.code)
                return events
            if event is NEED_DATA:
                break
            if isinstance(event, StreamPart):
                start = events.pop()
                assert isinstance(start, Frame)
                event = Frame(start.kind, start.payload + bytes(event.data))
            elif isinstance(event, StreamStart):
                event = Frame(event.kind, b"")
            events.append(event)
            if event is CLOSED:
                return events
    return events


def test_layout_is_kind_then_big_endian_length() -> None:
    assert encode_frame(7, b"abc") == b"\x07\x00\x00\x00\x03abc"
    assert encode_frame(0) == b"\x00\x00\x00\x00\x00"
    assert encode_header(7, 3) == b"\x07\x00\x00\x00\x03"


def test_round_trip_and_clean_close() -> None:
    data = encode_frame(1, b"x") + encode_frame(2, b"")
    assert decode_chunks([data]) == [Frame(1, b"x"), Frame(2, b""), CLOSED]


def test_each_kind_has_its_own_limit_checked_at_the_header() -> None:
    limits = FrameLimits({1: 10, 2: 0})
    for header in (b"\x01\x00\x00\x00\x0b", b"\x02\x00\x00\x00\x01"):
        frames = FrameBuffer(limits)
        frames.receive_data(header)  # no payload needed to refuse it
        with pytest.raises(RemoteProtocolError) as info:
            frames.next_frame()
        assert info.value.code is ErrorCode.FRAME_TOO_LARGE
    assert decode_chunks([encode_frame(1, b"x" * 10)], limits) == [Frame(1, b"x" * 10), CLOSED]


def test_a_refused_kind_is_known_from_its_first_byte() -> None:
    frames = FrameBuffer(FrameLimits({1: 10}))
    frames.receive_data(b"\x02")
    with pytest.raises(RemoteProtocolError) as info:
        frames.next_frame()
    assert info.value.code is ErrorCode.BAD_MESSAGE


def test_other_kinds_take_the_other_limit() -> None:
    limits = FrameLimits({1: 0}, other=3)
    assert decode_chunks([encode_frame(5, b"abc")], limits) == [Frame(5, b"abc"), CLOSED]
    assert decode_chunks([encode_frame(5, b"abcd")], limits) == [ErrorCode.FRAME_TOO_LARGE]


@pytest.mark.parametrize("cut", [1, 4, 6])
def test_eof_inside_a_frame_is_truncation(cut: int) -> None:
    assert decode_chunks([encode_frame(1, b"hello")[:cut]]) == [ErrorCode.TRUNCATED]


def test_eof_inside_a_streamed_frame_is_truncation() -> None:
    wire = encode_frame(STREAMED, b"hello")[:-1]
    events = decode_chunks([wire], streamed=frozenset({STREAMED}))
    assert events == [Frame(STREAMED, b"hell"), ErrorCode.TRUNCATED]


def test_a_streamed_frame_comes_out_as_it_arrives() -> None:
    frames = FrameBuffer(ANY_KIND, streamed={STREAMED})
    frames.receive_data(encode_frame(STREAMED, b"abcdef")[:7])
    assert frames.next_frame() == StreamStart(STREAMED, 6)
    assert frames.next_frame() == StreamPart(STREAMED, b"ab")
    assert frames.next_frame() is NEED_DATA
    frames.receive_data(b"cdef" + encode_frame(1, b"z"))
    part = frames.next_frame()
    assert isinstance(part, StreamPart)
    assert bytes(part.data) == b"cdef"
    assert frames.next_frame() == Frame(1, b"z")
    assert frames.buffered == 0


def test_a_streamed_frame_is_never_buffered_whole() -> None:
    frames = FrameBuffer(FrameLimits({STREAMED: 1 << 20}), streamed={STREAMED})
    frames.receive_data(encode_header(STREAMED, 1 << 20))
    assert frames.next_frame() == StreamStart(STREAMED, 1 << 20)
    for _ in range(4):
        frames.receive_data(bytes(1000))
        assert isinstance(frames.next_frame(), StreamPart)
        assert frames.buffered == 0


def test_a_part_that_is_a_whole_receive_is_that_object_not_a_copy() -> None:
    frames = FrameBuffer(ANY_KIND, streamed={STREAMED})
    frames.receive_data(encode_header(STREAMED, 8))
    frames.next_frame()
    chunk = b"12345678"
    frames.receive_data(chunk)
    part = frames.next_frame()
    assert isinstance(part, StreamPart)
    assert part.data is chunk


def test_parts_stay_valid_after_more_data_arrives() -> None:
    frames = FrameBuffer(ANY_KIND, streamed={STREAMED})
    frames.receive_data(encode_frame(STREAMED, b"abc") + b"\x01")
    frames.next_frame()
    part = frames.next_frame()
    assert isinstance(part, StreamPart)
    frames.receive_data(b"\x00\x00\x00\x00")
    assert frames.next_frame() == Frame(1, b"")
    assert bytes(part.data) == b"abc"


def test_encode_checks_kind_and_size() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(256)
    with pytest.raises(LocalProtocolError):
        encode_frame(1, b"xx", max_payload=1)
    with pytest.raises(LocalProtocolError):
        encode_header(1, 2, max_payload=1)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\xff", ErrorCode.BAD_ENCODING),
        (b"{", ErrorCode.BAD_MESSAGE),
        (b"[1]", ErrorCode.BAD_MESSAGE),
        (b"[" * 100_000, ErrorCode.FRAME_TOO_LARGE),
    ],
)
def test_bad_json_payloads(payload: bytes, code: ErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_json(payload)
    assert info.value.code is code


def test_require_checks_types() -> None:
    obj = decode_json(encode_json({"n": 1, "b": True, "s": "é"}))
    assert require(obj, "n", int) == 1
    assert require(obj, "s", str) == "é"
    with pytest.raises(RemoteProtocolError):
        require(obj, "b", int)
    with pytest.raises(RemoteProtocolError):
        require(obj, "missing", str)


frames_strategy = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=50)), max_size=10)


@given(frames_strategy, st.lists(st.integers(min_value=0), max_size=20), st.booleans())
def test_every_segmentation_yields_the_same_frames(
    items: list[tuple[int, bytes]], cuts: list[int], stream: bool
) -> None:
    data = b"".join(encode_frame(k, p) for k, p in items)
    streamed = frozenset(range(0, 256, 2)) if stream else frozenset()
    expected = [Frame(k, p) for k, p in items]
    assert decode_chunks(split(data, cuts), streamed=streamed) == [*expected, CLOSED]


@given(st.lists(st.binary(max_size=64), max_size=20), st.booleans())
def test_garbage_only_raises_protocol_errors(chunks: list[bytes], stream: bool) -> None:
    limits = FrameLimits({k: 100 for k in range(0, 256, 3)})
    events = decode_chunks(chunks, limits, frozenset({0, 3}) if stream else frozenset())
    assert events[-1] is CLOSED or isinstance(events[-1], ErrorCode)


@given(st.binary(max_size=200))
def test_json_garbage_only_raises_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_json(payload)
