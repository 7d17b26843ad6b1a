"""ReceiveBuffer: end of stream, what is buffered, consuming without copies."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.wire.buffer import ReceiveBuffer
from tests.support.segments import split


def test_empty_bytes_mean_end_of_stream_and_later_data_is_a_bug() -> None:
    buffer = ReceiveBuffer()
    buffer.receive_data(b"ab")
    assert not buffer.eof
    buffer.receive_data(b"")
    assert buffer.eof
    assert buffer.buffered == 2  # what came before EOF is still there
    buffer.receive_data(b"")  # a second EOF is harmless
    with pytest.raises(RuntimeError, match="after EOF"):
        buffer.receive_data(b"x")


def test_consuming_moves_through_the_buffered_bytes() -> None:
    buffer = ReceiveBuffer()
    buffer.receive_data(b"\x01\x00\x02hello|world")
    assert buffer.byte(0) == 1
    assert buffer.unpack(struct.Struct("!BH")) == (1, 2)
    buffer.skip(3)
    assert buffer.find(b"|") == 5
    assert buffer.find(b"|", 0, 5) == -1
    assert buffer.take_bytes(5) == b"hello"
    assert bytes(buffer.take(6)) == b"|world"
    assert buffer.buffered == 0


def test_a_whole_receive_is_taken_without_a_copy() -> None:
    buffer = ReceiveBuffer()
    chunk = b"x" * 1000
    buffer.receive_data(chunk)
    assert buffer.take(1000) is chunk


def test_a_view_stays_valid_while_more_data_arrives() -> None:
    buffer = ReceiveBuffer()
    buffer.receive_data(b"abcdef")
    view = buffer.take(3)
    buffer.receive_data(b"ghi")
    assert bytes(view) == b"abc"
    assert buffer.take_bytes(6) == b"defghi"


@given(st.binary(max_size=200), st.lists(st.integers(min_value=0), max_size=20),
       st.lists(st.integers(0, 20), max_size=40))
def test_any_segmentation_and_any_reads_give_back_the_stream(
    data: bytes, cuts: list[int], reads: list[int]
) -> None:
    buffer = ReceiveBuffer()
    out = bytearray()
    sizes = iter(reads)
    for chunk in split(data, cuts):
        buffer.receive_data(chunk)
        size = min(next(sizes, 0), buffer.buffered)
        out += buffer.take(size)
    out += buffer.take(buffer.buffered)
    assert bytes(out) == data
