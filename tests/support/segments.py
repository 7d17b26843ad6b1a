"""Random segmentations of a byte string, for "any split yields the same events" tests."""

from __future__ import annotations


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (taken modulo its length + 1, duplicates ignored), in order.

    No piece is empty: ``receive_data(b"")`` means end of stream to every parser.
    """
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]
