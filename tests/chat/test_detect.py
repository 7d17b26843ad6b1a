"""Mode detection on chat's one port, with time passed in (no sockets, no clock)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chat.classic import ClassicDecoder
from services.chat.detect import Detected, Mode, ModeDetector
from services.chat.ratelimit import TokenBucket
from services.wire import ErrorCode, RemoteProtocolError, encode_preface


def test_nothing_is_decided_before_the_first_byte() -> None:
    detector = ModeDetector(window=0.3)
    assert detector.decide(100.0) is None
    assert detector.deadline is None


def test_preface_means_netlab_mode_and_is_stripped() -> None:
    detector = ModeDetector(window=0.3)
    detector.receive_data(encode_preface("chat") + b"/nick al", now=1.0)
    assert detector.decide(1.0) == Detected(Mode.NETLAB, b"/nick al")


def test_preface_in_pieces_waits_without_a_deadline() -> None:
    detector = ModeDetector(window=0.3)
    preface = encode_preface("chat")
    detector.receive_data(preface[:3], now=1.0)
    assert detector.deadline is None
    assert detector.decide(50.0) is None
    detector.receive_data(preface[3:], now=50.0)
    assert detector.decide(50.0) == Detected(Mode.NETLAB, b"")


def test_another_services_preface_is_refused() -> None:
    detector = ModeDetector(window=0.3)
    with pytest.raises(RemoteProtocolError) as info:
        detector.receive_data(encode_preface("exec"), now=1.0)
    assert info.value.code is ErrorCode.BAD_PREFACE


def test_newline_within_the_window_means_line_mode() -> None:
    detector = ModeDetector(window=0.3)
    detector.receive_data(b"hel", now=1.0)
    assert detector.decide(1.1) is None
    detector.receive_data(b"lo\nmore", now=1.2)
    assert detector.decide(1.2) == Detected(Mode.LINE, b"hello\nmore")


def test_no_newline_within_the_window_means_classic_mode() -> None:
    detector = ModeDetector(window=0.3)
    detector.receive_data("你好".encode(), now=1.0)
    assert detector.deadline == pytest.approx(1.3)
    assert detector.decide(1.29) is None
    assert detector.decide(1.3) == Detected(Mode.CLASSIC, "你好".encode())


def test_newline_after_the_window_is_too_late() -> None:
    detector = ModeDetector(window=0.3)
    detector.receive_data(b"hi", now=1.0)
    assert detector.decide(2.0) == Detected(Mode.CLASSIC, b"hi")


def test_a_long_run_without_newline_is_a_too_long_line() -> None:
    detector = ModeDetector(window=0.3, max_line=16)
    detector.receive_data(b"x" * 17, now=1.0)
    assert detector.decide(1.0) == Detected(Mode.LINE, b"x" * 17)


def test_eof_with_bytes_is_a_last_line_and_without_is_closed() -> None:
    detector = ModeDetector(window=0.3)
    detector.receive_data(b"bye", now=1.0)
    detector.receive_data(b"", now=1.0)
    assert detector.decide(1.0) == Detected(Mode.LINE, b"bye")
    silent = ModeDetector(window=0.3)
    silent.receive_data(b"", now=1.0)
    assert silent.decide(1.0) == Detected(Mode.CLOSED, b"")


@given(st.binary(min_size=1, max_size=200), st.floats(min_value=0, max_value=1))
def test_garbage_never_crashes_the_detector(data: bytes, later: float) -> None:
    detector = ModeDetector(window=0.3, max_line=64)
    try:
        detector.receive_data(data, now=0.0)
    except RemoteProtocolError as exc:
        assert exc.code is ErrorCode.BAD_PREFACE
        return
    decided = detector.decide(later)
    if decided is not None:
        assert decided.mode is not Mode.CLOSED


def test_classic_read_is_one_message() -> None:
    assert ClassicDecoder().messages(b"hello there") == ["hello there"]


def test_classic_read_with_newlines_is_split_and_sanitized() -> None:
    assert ClassicDecoder().messages(b"one\r\ntwo\n\n\x1bx") == ["one", "two", "\ufffdx"]


def test_classic_character_cut_by_a_read_is_carried_over() -> None:
    decoder = ClassicDecoder()
    data = "é".encode()
    assert decoder.messages(b"caf" + data[:1]) == ["caf"]
    assert decoder.messages(data[1:] + b"!") == ["é!"]


def test_classic_bad_utf8_is_an_error() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        ClassicDecoder().messages(b"\xff\xff")
    assert info.value.code is ErrorCode.BAD_ENCODING


def test_token_bucket_allows_a_burst_then_paces() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)
    assert bucket.take(0.0) == pytest.approx(0.2)
    assert bucket.take(1.0) == 0.0  # refilled, but never above the burst
    assert [bucket.take(1.0) for _ in range(3)][-1] == pytest.approx(0.1)
