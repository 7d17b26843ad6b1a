"""What a checker finds: violations, and one verdict per invariant.

A :class:`Violation` says what broke, when (wall-clock seconds, the
history's clock), for which process, under which fault (filled in by
:func:`lab.invariants.attribution.attribute`) and the TCP or programming
concept a failure of that invariant teaches (:data:`CONCEPTS`).

A :class:`Verdict` is one of three statuses:

``pass``
    the checker checked at least one thing (``checked > 0``) and found no
    violation, with every observation it needs present;
``fail``
    at least one violation (whatever else is missing);
``unknown``
    no violation, but something the checker needs is missing (an
    observation, a stats port: the broken twins have none), or there was
    nothing to check in this history (no chat client, no fault that cut a
    connection). ``detail`` says which.

There is deliberately no "not applicable" status: a scenario names the
invariants that apply to it, so one with nothing to check means the
scenario did not exercise it, and a missing observation never reads as a
pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

Status = Literal["pass", "fail", "unknown"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "unknown")
NO_FAULT = "none"

CONCEPTS: dict[str, str] = {
    "chat.delivery": (
        "TCP is a byte stream: one recv() is not one message; frame your messages, "
        "and keep every connection's queue served so no member is skipped"
    ),
    "chat.order": (
        "TCP delivers one connection's bytes in order; a server that forwards them "
        "must keep each sender's order (one FIFO queue per recipient, written in one task)"
    ),
    "chat.cutoff": (
        "a dead peer sends nothing: without a read timeout or keepalive a program never "
        "learns that a half-open connection is gone"
    ),
    "exec.at-most-once": (
        "a lost connection is an unknown outcome, not a failure: retrying a "
        "non-idempotent request after it can run it twice"
    ),
    "exec.intact": (
        "read a child's stdout and stderr while it runs (a full pipe blocks it) and "
        "report every outcome: an exit status, an explicit error, or an unknown"
    ),
    "exec.no-leftovers": (
        "a closed connection must end the work it started: kill and reap the "
        "process group when the client goes"
    ),
    "upload.complete-or-absent": (
        "a connection can break mid-write: stage to a temporary name and rename "
        "into place only after the hash checks, so a partial never has the final name"
    ),
    "upload.resume": (
        "after a break, only an explicit acknowledgement tells how many bytes the "
        "peer kept: resume from the offset it reports, then verify the whole file"
    ),
    "all.serves-new-clients": (
        "one misbehaving connection must not stop accept(): handle each client "
        "concurrently with timeouts, and catch its errors in its own task"
    ),
    "all.counters-baseline": (
        "every connection ends in close(), on every path: a fault must not leak a "
        "socket or a task (try/finally, async with)"
    ),
}


@dataclass(frozen=True)
class Violation:
    """One broken promise of one invariant."""

    invariant: str
    message: str
    time: float | None = None
    process: str | None = None
    fault: str | None = None
    concept: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "message": self.message, "time": self.time,
                "process": self.process, "fault": self.fault, "concept": self.concept}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Violation:
        time = data.get("time")
        return cls(invariant=str(data["invariant"]), message=str(data["message"]),
                   time=None if time is None else float(time), process=data.get("process"),
                   fault=data.get("fault"), concept=str(data.get("concept", "")))


@dataclass(frozen=True)
class Verdict:
    """The outcome of one invariant on one scenario's history and observations."""

    invariant: str
    status: Status
    violations: tuple[Violation, ...] = ()
    checked: int = 0
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")
        if (self.status == "fail") != bool(self.violations):
            raise ValueError("a verdict fails exactly when it has violations")

    @property
    def concept(self) -> str:
        return CONCEPTS.get(self.invariant, "")

    def faults(self) -> list[str]:
        """The faults the violations are attributed to, in order, each once."""
        return list(dict.fromkeys(v.fault for v in self.violations if v.fault is not None))

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "status": self.status, "checked": self.checked,
                "detail": self.detail, "violations": [v.to_json() for v in self.violations]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        return cls(invariant=str(data["invariant"]), status=cast(Status, data["status"]),
                   violations=tuple(Violation.from_json(v) for v in data.get("violations", [])),
                   checked=int(data.get("checked", 0)), detail=str(data.get("detail", "")))


@dataclass
class Findings:
    """A checker's notebook: violations, what it checked, what it could not.

    ``unit`` names what one ``checked`` counts ("message deliveries"), for
    the verdict's detail.
    """

    invariant: str
    unit: str
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def violation(self, message: str, *, time: float | None = None,
                  process: str | None = None, fault: str | None = None) -> None:
        """Record one; ``fault`` only when the checker knows better than the clock."""
        self.violations.append(Violation(self.invariant, message, time, process, fault,
                                         CONCEPTS.get(self.invariant, "")))

    def cannot_check(self, reason: str) -> None:
        """Something needed is missing: the verdict is at best unknown."""
        self.missing.append(reason)

    def note(self, text: str) -> None:
        """Context for the detail (things skipped on purpose, and why)."""
        self.notes.append(text)

    def verdict(self, nothing: str) -> Verdict:
        """Fail on any violation; else unknown if something was missing or
        nothing was checked (``nothing`` says why); else pass."""
        summary = [f"{self.checked} {self.unit} checked", *self.notes]
        if self.violations:
            status: Status = "fail"
            detail = [f"{len(self.violations)} violation(s)", *summary, *self.missing]
        elif self.missing:
            status, detail = "unknown", [*self.missing, *(summary if self.checked else self.notes)]
        elif self.checked == 0:
            status, detail = "unknown", [nothing, *self.notes]
        else:
            status, detail = "pass", summary
        return Verdict(self.invariant, status, tuple(self.violations), self.checked,
                       "; ".join(detail))
