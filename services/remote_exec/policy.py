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
from collections import deque
from collections.abc import Awaitable, Callable

import trio


def token_matches(expected: str, given: str) -> bool:
    """Compare tokens in constant time (no early exit that would leak a prefix)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


class AuthThrottle:
    """Wrong tokens per peer address: ``max_failures`` within ``window`` s block it ``block`` s.

    While an address is blocked its RUNs are refused before the token is
    compared, so guessing goes no faster than ``max_failures`` a window.
    Bounded memory: at most ``max_peers`` addresses are remembered (the
    oldest forgotten first).
    """

    def __init__(self, max_failures: int, window: float, block: float,
                 max_peers: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.block = block
        self.max_peers = max_peers
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds ``address`` stays blocked (0: it may try)."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0.0
        left = until - trio.current_time()
        if left <= 0:
            del self._blocked_until[address]
            return 0.0
        return left

    def failed(self, address: str) -> bool:
        """Record a wrong token from ``address``; True if that blocks it now."""
        if self.max_failures <= 0:
            return False
        now = trio.current_time()
        times = self._failures.pop(address, None) or deque()
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            self._blocked_until[address] = now + self.block
            return True
        self._failures[address] = times  # re-inserted: most recent last
        while len(self._failures) > self.max_peers:
            del self._failures[next(iter(self._failures))]
        return False


def peer_address(peer: str) -> str:
    """The address part of ``host:port`` / ``[v6]:port``."""
    return peer.rsplit(":", 1)[0] if ":" in peer else peer


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
