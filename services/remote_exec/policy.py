"""Who may run what, and how many at once: the token check and the admission queue.

Concurrency policy: at most ``max_concurrent`` commands run at once. A RUN
beyond that waits in a FIFO queue (its client is told its position with
QUEUED) for at most ``queue_timeout`` seconds; a RUN finding ``max_queued``
commands already waiting, or still waiting when its time is up, is refused
with ``busy``. A user running a burst gets every command through in order
as long as the server keeps up, and a clear refusal, never an endless wait,
when it does not.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

import trio


def token_matches(expected: str, given: str) -> bool:
    """Compare tokens in constant time (no early exit that would leak a prefix)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class NoSlot(Exception):
    """No command slot: the queue is full, or the wait for a slot timed out."""


class Admission:
    """A bounded FIFO queue in front of ``max_concurrent`` command slots."""

    def __init__(self, max_concurrent: int, max_queued: int) -> None:
        self.max_concurrent = max_concurrent
        self.max_queued = max_queued
        self._slots = trio.Semaphore(max_concurrent)  # FIFO wake-ups: first come, first run
        self.waiting = 0

    @property
    def running(self) -> int:
        return self.max_concurrent - self._slots.value

    async def acquire(
        self, timeout: float, on_queued: Callable[[int], Awaitable[None]] | None = None
    ) -> None:
        """Take one slot, waiting in line at most ``timeout`` s; ``NoSlot`` if there is none.

        ``on_queued(position)`` is awaited when the caller has to wait. The
        caller must :meth:`release` the slot.
        """
        try:
            self._slots.acquire_nowait()
            return
        except trio.WouldBlock:
            pass
        if self.waiting >= self.max_queued:
            raise NoSlot(f"{self.running} commands running and {self.waiting} waiting")
        self.waiting += 1
        try:
            if on_queued is not None:
                await on_queued(self.waiting)
            with trio.move_on_after(timeout):
                await self._slots.acquire()
                return
            raise NoSlot(f"no free slot within {timeout:g} s")
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self._slots.release()
