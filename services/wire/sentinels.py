"""Sentinels returned by ``next_event()``-style methods (model: h11's NEED_DATA)."""

from __future__ import annotations

import enum


class NeedData(enum.Enum):
    """More bytes are needed before another event can be produced."""

    NEED_DATA = "NEED_DATA"


class Closed(enum.Enum):
    """The peer closed its side and every buffered event has been consumed."""

    CLOSED = "CLOSED"


NEED_DATA = NeedData.NEED_DATA
CLOSED = Closed.CLOSED
