"""How many refused lines one chat client may send, sans-IO (time is an argument).

A refused line (not UTF-8, too long, an unknown command, bad arguments, a
private message to nobody) is answered with an error line and costs the
client one line of its rate (``context.pace``), like any other line. On top
of that each client has an error budget: a burst of ``burst`` refused lines,
refilled at :data:`REFILL_PER_SECOND`. A person on ``nc`` who mistypes now
and then never runs out; a program that writes 30,000 bad lines does, and is
disconnected with ``too-many-errors`` instead of costing the server a log
line and an error line each.

Logs: the first :data:`LOGGED_ERRORS` refusals of a client are logged one by
one, the next one once as ``errors-muted``; after that they are only
counted (``errors_by_reason`` on the stats port), so no client can flood the
log however it misbehaves.
"""

from __future__ import annotations

import enum

from services.chat.ratelimit import TokenBucket

LOGGED_ERRORS = 3
REFILL_PER_SECOND = 1.0


class Verdict(enum.Enum):
    """What to do about one refused line."""

    LOG = "log"  # log it, answer it, go on
    MUTE = "mute"  # log that later ones are not logged, answer it, go on
    QUIET = "quiet"  # answer it, go on
    CLOSE = "close"  # budget spent: disconnect with too-many-errors


class ErrorBudget:
    """``record(now)`` counts one refused line and says what to do about it.

    ``burst`` 0 means no budget: refusals never close the client (logging
    stays bounded all the same).
    """

    __slots__ = ("_bucket", "refused")

    def __init__(self, burst: int) -> None:
        if burst < 0:
            raise ValueError("burst must not be negative")
        self._bucket = TokenBucket(REFILL_PER_SECOND, burst) if burst else None
        self.refused = 0

    def record(self, now: float) -> Verdict:
        self.refused += 1
        if self._bucket is not None and self._bucket.take(now) > 0:
            return Verdict.CLOSE
        if self.refused <= LOGGED_ERRORS:
            return Verdict.LOG
        return Verdict.MUTE if self.refused == LOGGED_ERRORS + 1 else Verdict.QUIET
