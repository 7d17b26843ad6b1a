"""Telling a netlab client from a classic one by its first bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.wire import RemoteProtocolError, Sniff, encode_preface, sniff


def test_netlab_preface_is_recognised_and_consumed() -> None:
    data = encode_preface("exec") + b"rest"
    assert sniff(data, "exec") == (Sniff.NETLAB, len(encode_preface("exec")))


@pytest.mark.parametrize("data", [b"ls -l", b"notes.txt|12", b"hello", "你好".encode()])
def test_classic_bytes_are_other(data: bytes) -> None:
    assert sniff(data, "exec") == (Sniff.OTHER, 0)


def test_partial_preface_needs_data() -> None:
    full = encode_preface("upload")
    for end in range(len(full)):
        assert sniff(full[:end], "upload")[0] is Sniff.NEED_DATA


def test_preface_for_another_service_is_refused() -> None:
    with pytest.raises(RemoteProtocolError):
        sniff(encode_preface("chat"), "exec")


@given(st.binary(max_size=40))
def test_sniff_never_crashes(data: bytes) -> None:
    try:
        mode, consumed = sniff(data, "exec")
    except RemoteProtocolError:
        return
    assert 0 <= consumed <= len(data)
    assert (mode is Sniff.NETLAB) == (consumed > 0)
