"""Sentinels returned by ``next_event()``-style methods (model: h11's NEED_DATA), and the
interface every such parser offers to the Trio layer."""

from __future__ import annotations

import enum
from typing import Protocol, TypeVar


class NeedData(enum.Enum):
    """More bytes are needed before another event can be produced."""

    NEED_DATA = "NEED_DATA"


class Closed(enum.Enum):
    """The peer closed its side and every buffered event has been consumed."""

    CLOSED = "CLOSED"


NEED_DATA = NeedData.NEED_DATA
CLOSED = Closed.CLOSED


EventT_co = TypeVar("EventT_co", covariant=True)


class EventSource(Protocol[EventT_co]):
    """What a Trio shell needs of a sans-IO parser: bytes in, events (or a sentinel) out."""

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""

    def next_event(self) -> EventT_co | NeedData | Closed:
        """The next event, ``NEED_DATA`` or ``CLOSED``."""
