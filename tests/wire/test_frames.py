"""FrameDecoder and JSON control payloads: tables, segmentations, garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.wire import CLOSED, NEED_DATA, ErrorCode, Frame, FrameDecoder, encode_frame
from services.wire.errors import LocalProtocolError, RemoteProtocolError
from services.wire.frames import decode_json, encode_json, require


def decode_chunks(chunks: list[bytes], max_payload: int = 1000) -> list[object]:
    decoder = FrameDecoder(max_payload)
    events: list[object] = []
    for chunk in [*(c for c in chunks if c), b""]:
        decoder.receive_data(chunk)
        while True:
            try:
                event = decoder.next_frame()
            except RemoteProtocolError as exc:
                events.append(exc.code)
                return events
            if event is NEED_DATA:
                break
            events.append(event)
            if event is CLOSED:
                return events
    return events


def test_layout_is_kind_then_big_endian_length() -> None:
    assert encode_frame(7, b"abc") == b"\x07\x00\x00\x00\x03abc"
    assert encode_frame(0) == b"\x00\x00\x00\x00\x00"


def test_round_trip_and_clean_close() -> None:
    data = encode_frame(1, b"x") + encode_frame(2, b"")
    assert decode_chunks([data]) == [Frame(1, b"x"), Frame(2, b""), CLOSED]


def test_oversized_header_refused_before_payload_arrives() -> None:
    decoder = FrameDecoder(max_payload=10)
    decoder.receive_data(b"\x01\x00\x00\x00\x0b")
    with pytest.raises(RemoteProtocolError) as info:
        decoder.next_frame()
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE


def test_eof_inside_a_frame_is_truncation() -> None:
    assert decode_chunks([encode_frame(1, b"hello")[:-1]]) == [ErrorCode.TRUNCATED]


def test_encode_checks_kind_and_size() -> None:
    with pytest.raises(LocalProtocolError):
        encode_frame(256)
    with pytest.raises(LocalProtocolError):
        encode_frame(1, b"xx", max_payload=1)


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


frames = st.lists(
    st.tuples(st.integers(0, 255), st.binary(max_size=50)), max_size=10
)


@given(frames, st.lists(st.integers(min_value=0), max_size=20))
def test_every_segmentation_yields_the_same_frames(
    items: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    data = b"".join(encode_frame(k, p) for k, p in items)
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert decode_chunks(chunks) == [*(Frame(k, p) for k, p in items), CLOSED]


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_garbage_only_raises_protocol_errors(chunks: list[bytes]) -> None:
    events = decode_chunks(chunks, max_payload=100)
    assert events[-1] is CLOSED or isinstance(events[-1], ErrorCode)


@given(st.binary(max_size=200))
def test_json_garbage_only_raises_protocol_errors(payload: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_json(payload)
