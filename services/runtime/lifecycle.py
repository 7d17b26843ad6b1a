"""Graceful shutdown, shared by the accept loop and every connection handler.

Theory of operation: ``request_shutdown`` sets ``draining``. ``serve`` then
stops accepting and gives the open connections ``grace_period`` seconds; each
handler watches ``draining`` to tell its client and finish in-flight work.
What is still running when the grace period ends is cancelled. ``stopped`` is
set when ``serve`` has returned.
"""

from __future__ import annotations

import trio


class Lifecycle:
    """Shutdown state of one server."""

    def __init__(self) -> None:
        self.draining = trio.Event()
        self.stopped = trio.Event()
        self.reason: str | None = None

    @property
    def is_draining(self) -> bool:
        return self.draining.is_set()

    def request_shutdown(self, reason: str = "requested") -> None:
        """Start a graceful shutdown; later calls keep the first reason."""
        if not self.draining.is_set():
            self.reason = reason
            self.draining.set()
