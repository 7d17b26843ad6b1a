"""The transfer memory budget: what downloads may hold in buffers, together.

Why: a client that asks for a large file and does not read it leaves the
server's bytes waiting in the connection's queue. One download holds at most
``config.download_reservation`` bytes (it reads the file a chunk at a time,
only as the queue takes them), and all downloads together reserve at most
``config.transfer_memory``: a GET past that waits ``memory_wait`` seconds for
room, then is refused with ``busy``. Without this, a hundred stalled GETs of a
20 MB file held about 10 MiB each.

The gauge ``transfer_buffered_bytes`` (and its ``_peak``) in the counters'
``extra`` is measured, not reserved: bytes of downloads queued for the socket
and not yet written, plus the chunk being read. It is updated whenever a
download queues a chunk and when one ends.

Resource handling: :meth:`TransferMemory.download` reserves on entry and
gives back on exit, however the block ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters


class NoMemory(Exception):
    """No room in the budget within the wait; answered ``busy``."""


class TransferMemory:
    """Reservations of the service's transfer buffers, and the measured gauge."""

    def __init__(self, capacity: int, counters: Counters) -> None:
        self.capacity = capacity
        self.reserved = 0
        self.counters = counters
        self._freed = trio.Event()
        self._downloads: dict[PeerConnection, int] = {}  # connection → chunk being read

    @asynccontextmanager
    async def download(self, conn: PeerConnection, size: int, *,
                       wait: float) -> AsyncIterator[None]:
        """Reserve ``size`` bytes for one download of ``conn``; :class:`NoMemory` after ``wait``."""
        with trio.move_on_after(wait):
            while self.reserved + size > self.capacity:
                await self._freed.wait()
        if self.reserved + size > self.capacity:
            raise NoMemory(f"downloads hold {self.reserved} of {self.capacity} bytes of buffers")
        self.reserved += size
        self._downloads[conn] = 0
        try:
            yield
        finally:
            self.reserved -= size
            del self._downloads[conn]
            self._freed.set()
            self._freed = trio.Event()
            self.measure()

    def reading(self, conn: PeerConnection, size: int) -> None:
        """``conn``'s download holds ``size`` bytes just read (0 once queued)."""
        self._downloads[conn] = size
        self.measure()

    def measure(self) -> int:
        """Update the gauge and its peak; returns the bytes held now."""
        held = sum(conn.queued_bytes + reading for conn, reading in self._downloads.items())
        extra = self.counters.extra
        extra["transfer_buffered_bytes"] = held
        if held > extra["transfer_buffered_bytes_peak"]:
            extra["transfer_buffered_bytes_peak"] = held
        return held
