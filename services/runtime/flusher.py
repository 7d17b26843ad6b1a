"""One task per server that hands every connection's queued bytes to the kernel, once a pass.

Why: a chat line to a hundred clients is a hundred small writes. With a
writer task per connection, each of them cost a task started, scheduled and
ended besides the write itself, most of the server's time at ten messages a
second from a hundred clients. Here a connection with something queued is
marked; the flusher's next turn (one scheduler pass later, so whatever the
other tasks queue in that pass goes out together) writes each marked
connection's bytes in one ``write`` when its socket has room. Only a
connection whose socket buffer is full gets a writer task of its own (see
:class:`~services.runtime.connection.PeerConnection`).

Resource handling: the flusher's task runs in the nursery it was given
(``serve``'s nursery of connections) only while connections are marked;
it ends one pass after the last, so an idle server holds none.
Error handling: ``flush_now`` never raises (each connection records its own
failure); a cancelled pass leaves the marks to the connections' sessions,
which are being cancelled too.
"""

from __future__ import annotations

from typing import Protocol

import trio


class Flushable(Protocol):
    def flush_now(self) -> None:
        """Write what is queued if the socket takes it now; never raises."""


class Flusher:
    """Writes marked connections' queued bytes, one pass after they were marked."""

    __slots__ = ("_marked", "_running", "nursery")

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery  # also where connections start their own writers
        self._marked: dict[Flushable, None] = {}  # ordered: marked first, written first
        self._running = False

    def mark(self, conn: Flushable) -> None:
        """``conn`` has something queued: write it on the next pass."""
        self._marked[conn] = None
        if not self._running:
            self._running = True
            self.nursery.start_soon(self._run)

    async def _run(self) -> None:
        try:
            while True:
                await trio.lowlevel.checkpoint()  # a pass: the others queue what they will
                if not self._marked:
                    return
                marked, self._marked = self._marked, {}
                for conn in marked:
                    conn.flush_now()
        finally:
            self._running = False
