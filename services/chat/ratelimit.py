"""A token bucket, sans-IO (time is an argument): how fast one client's lines are handled.

A client that sends faster than ``rate`` lines per second (after a burst of
``burst``) is not disconnected and loses nothing: the server just stops
reading from it for a while, and TCP's flow control slows the sender down.
Without this, one flooding client could fill every other client's queue and
get them all disconnected as slow consumers.
"""

from __future__ import annotations


class TokenBucket:
    """``take(now)`` spends one token and says how long to wait before acting on it."""

    __slots__ = ("_tokens", "_updated", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated: float | None = None

    def take(self, now: float) -> float:
        """Spend one token at ``now``; 0.0 if one was available, else the wait in seconds."""
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate
