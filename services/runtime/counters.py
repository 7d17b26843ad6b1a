"""Counters every server keeps, readable in-process and over the stats port.

Every figure is declared with what it counts, so ``docs/reference/stats.md``
is made from the declarations: the fields of :class:`Counters` carry their
meaning, and each service declares the keys of its ``extra`` and the reasons
it counts errors under as :class:`Figure` tuples (its ``stats.py``; the ones
every server shares are here). ``tests/test_reference_pages.py`` checks that
every name the code counts is declared, and every declared name counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

MEANING = "netlab.meaning"


def _figure(meaning: str) -> Any:
    return field(default=0, metadata={MEANING: meaning})


@dataclass(frozen=True)
class Figure:
    """One key of a server's ``extra`` or ``errors_by_reason``, and what it counts.

    A ``{part}`` in ``name`` varies (``ended_{stop}``); ``values`` lists
    what it takes, when the code knows. A ``gauge`` goes up and down (bytes
    held now); a ``count`` only grows.
    """

    name: str
    meaning: str
    kind: Literal["count", "gauge"] = "count"
    values: tuple[str, ...] = ()


@dataclass
class Counters:
    """Live figures of one server. Mutated only from the server's Trio thread.

    ``extra`` holds service-specific counts (messages delivered, commands run,
    files stored...), keyed by a short name.
    """

    connections_total: int = _figure(
        "connections accepted and handed to a session since the server started (refused ones "
        "not included)")
    connections_open: int = _figure("connections open now (a gauge)")
    connections_refused: int = _figure(
        "connections refused at accept because --max-clients were open (told why where the "
        "protocol can say it, then closed)")
    tasks_open: int = _figure("connection tasks running now (a gauge; at most one per connection)")
    bytes_in: int = _figure("bytes received from clients")
    bytes_out: int = _figure("bytes sent to clients")
    errors: int = _figure("connections that failed, and refusals counted as errors: the sum of "
                          "`errors_by_reason`")
    errors_by_reason: Counter[str] = field(default_factory=Counter, metadata={
        MEANING: "`errors`, by reason: a protocol error code of the service, or a reason below"})
    extra: Counter[str] = field(default_factory=Counter, metadata={
        MEANING: "the service's own figures, by name (below)"})

    def error(self, reason: str) -> None:
        """Count one error under ``reason``."""
        self.errors += 1
        self.errors_by_reason[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every figure."""
        return {
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "connections_refused": self.connections_refused,
            "tasks_open": self.tasks_open,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "errors": self.errors,
            "errors_by_reason": dict(self.errors_by_reason),
            "extra": dict(self.extra),
        }


EXTRA = (
    Figure("refused_http", "connections whose first bytes were an HTTP request, answered "
           "with a 400 and closed (every classic port)"),
)
"""The keys of ``extra`` every server may count."""

ERROR_REASONS = (
    Figure("accept-capacity", "accept() failed for lack of descriptors or memory; the server "
           "paused accepting"),
    Figure("handler-crash", "a connection's task raised an unexpected exception (a bug: the "
           "log has the traceback)"),
    Figure("io-error", "an OS error ended a connection (or, for upload, a disk operation)"),
)
"""The error reasons every server may count, besides the runtime's transport failures."""
