"""The tutorial's upload bytes, sans-IO: headers, glued data, several files, garbage."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.upload.classic import MAX_HEADER, ClassicDecoder, ClassicHeader, FileEnd
from services.upload.events import Data
from services.wire.errors import ErrorCode, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA


def decode(chunks: list[bytes]) -> list[object]:
    """Feed ``chunks`` one receive at a time; merge DATA parts; errors end the list."""
    decoder = ClassicDecoder()
    events: list[object] = []
    for chunk in [*(c for c in chunks if c), b""]:
        decoder.receive_data(chunk)
        while True:
            try:
                event = decoder.next_event()
            except RemoteProtocolError as exc:
                events.append(exc.code)
                return events
            if event is NEED_DATA:
                break
            if isinstance(event, Data) and events and isinstance(events[-1], Data):
                events[-1] = Data(bytes(events[-1].data) + bytes(event.data))
            else:
                events.append(event)
            if event is CLOSED:
                return events
    return events


def test_header_then_data_as_the_tutorial_sends_them() -> None:
    assert decode([b"a.txt|5", b"hello"]) == [
        ClassicHeader(b"a.txt", 5), Data(b"hello"), FileEnd(), CLOSED,
    ]


def test_header_and_data_glued_in_one_segment() -> None:
    assert decode([b"a.txt|5hello"]) == [
        ClassicHeader(b"a.txt", 5), Data(b"hello"), FileEnd(), CLOSED,
    ]


def test_several_files_and_over_read_into_the_next_header() -> None:
    assert decode([b"a|2", b"hib|3", b"xyz"]) == [
        ClassicHeader(b"a", 2), Data(b"hi"), FileEnd(),
        ClassicHeader(b"b", 3), Data(b"xyz"), FileEnd(), CLOSED,
    ]


def test_empty_file() -> None:
    assert decode([b"e|0"]) == [ClassicHeader(b"e", 0), FileEnd(), CLOSED]


def test_header_waits_for_its_bar_and_first_digit() -> None:
    assert decode([b"long-na", b"me|", b"3abc"]) == [
        ClassicHeader(b"long-name", 3), Data(b"abc"), FileEnd(), CLOSED,
    ]


def test_glued_data_starting_with_digits_is_the_documented_flaw() -> None:
    # "a|2" + b"12": no delimiter, so SIZE reads as 212 and the upload is misparsed.
    assert decode([b"a|212"]) == [ClassicHeader(b"a", 212), ErrorCode.TRUNCATED]


@pytest.mark.parametrize(
    ("chunks", "code"),
    [
        ([b"x" * MAX_HEADER], ErrorCode.BAD_MESSAGE),  # no '|' within 1024 bytes
        ([b"a|b"], ErrorCode.BAD_MESSAGE),  # SIZE is not a number
        ([b"a|"], ErrorCode.BAD_MESSAGE),  # closed before SIZE
        ([b"a.txt"], ErrorCode.TRUNCATED),  # closed in the header
        ([b"a|5", b"hel"], ErrorCode.TRUNCATED),  # closed in the data
    ],
)
def test_bad_streams(chunks: list[bytes], code: ErrorCode) -> None:
    assert decode(chunks)[-1] == code


def test_size_is_at_most_twenty_digits() -> None:
    events = decode([b"a|" + b"9" * 25])
    assert events[0] == ClassicHeader(b"a", int("9" * 20))


files = st.lists(
    st.tuples(
        st.binary(min_size=1, max_size=30).filter(lambda n: b"|" not in n),
        # Data starting with a non-digit: the case classic framing can parse.
        st.binary(max_size=300).filter(lambda d: not d[:1].isdigit()),
    ),
    min_size=1, max_size=4,
)


@given(files, st.lists(st.integers(min_value=0), max_size=20))
def test_every_segmentation_outside_the_size_digits_yields_the_same_events(
    items: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    wire = b""
    expected: list[object] = []
    forbidden: set[int] = set()  # cut points inside a header's digit run
    for name, data in items:
        header = name + b"|" + str(len(data)).encode()
        digits_start = len(wire) + len(name) + 1
        forbidden.update(range(digits_start, len(wire) + len(header)))
        if not data:  # an empty file's header ends only where the next header starts
            forbidden.add(len(wire) + len(header))
        wire += header + data
        expected += [ClassicHeader(name, len(data)), *([Data(data)] if data else []), FileEnd()]
    points = sorted({c % (len(wire) + 1) for c in cuts} - forbidden)
    # After an empty file the next header follows the SIZE digits directly.
    assume(not any(not d and n[:1].isdigit() for (_, d), (n, _) in pairwise(items)))
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    assert decode(chunks) == [*expected, CLOSED]


@given(st.lists(st.binary(max_size=200), max_size=20))
def test_garbage_only_raises_protocol_errors(chunks: list[bytes]) -> None:
    events = decode(chunks)
    assert events[-1] is CLOSED or isinstance(events[-1], ErrorCode)
