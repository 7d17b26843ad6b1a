"""Triggers: when a scheduled fault fires, at a time or at a protocol point.

A trigger is a frozen value (saved in a run's plan as JSON); a
:class:`TriggerState` follows one trigger through a run. The runner feeds it
every op the fleets write, with the seconds elapsed since the run started
(``feed(op, elapsed)``), and the clock alone now and then (``feed(None,
elapsed)``); the first ``feed`` that returns True is the moment to apply the
fault. Nothing here reads a clock or does I/O, so a saved history replays
the same firings.

``AtTime(seconds)``
    once ``seconds`` have elapsed (``due()`` says when, to sleep until then);
``AfterOps(f, count, process_prefix, type)``
    at the ``count``-th op named ``f`` (of that ``type``, when given; of the
    processes whose name starts with ``process_prefix``, when given): after
    30 chat lines is ``AfterOps("recv", 30)``;
``AtProgress(fraction, process_prefix)``
    at the first upload ``progress`` op with ``offset / size >= fraction``;
``WhileStreaming(process_prefix)``
    at the first exec ``output`` op: a command is streaming its output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from lab.history import OP_TYPES, Op, OpType


@dataclass(frozen=True)
class Trigger(ABC):
    """When a fault fires; subclasses hold their settings as frozen fields."""

    kind: ClassVar[str]

    @abstractmethod
    def fires(self, op: Op | None, elapsed: float, state: TriggerState) -> bool:
        """Whether this op (None: no op, the clock only) at ``elapsed`` s makes it fire.

        May update ``state`` (counts); called until it returns True.
        """

    def due(self) -> float | None:
        """Elapsed seconds at which it fires without any op (None: only an op fires it)."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """How a report names it: ``at 2 s``, ``after 30 recv ops``."""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


def _of(op: Op, prefix: str | None) -> bool:
    return prefix is None or op.process.startswith(prefix)


def _among(prefix: str | None) -> str:
    return f" of {prefix}*" if prefix else ""


@dataclass(frozen=True)
class AtTime(Trigger):
    """Fires once ``seconds`` have elapsed since the run started."""

    kind: ClassVar[str] = "at-time"
    seconds: float

    def __post_init__(self) -> None:
        if self.seconds < 0:
            raise ValueError("AtTime needs seconds >= 0")

    def fires(self, op: Op | None, elapsed: float, state: TriggerState) -> bool:
        return elapsed >= self.seconds

    def due(self) -> float:
        return self.seconds

    def describe(self) -> str:
        return f"at {self.seconds:g} s"


@dataclass(frozen=True)
class AfterOps(Trigger):
    """Fires at the ``count``-th matching op (``info recv`` ops: chat lines heard)."""

    kind: ClassVar[str] = "after-ops"
    f: str
    count: int
    process_prefix: str | None = None
    type: OpType | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("AfterOps needs count >= 1")
        if self.type is not None and self.type not in OP_TYPES:
            raise ValueError(f"AfterOps type must be one of {OP_TYPES}")

    def fires(self, op: Op | None, elapsed: float, state: TriggerState) -> bool:
        if op is None or op.f != self.f or not _of(op, self.process_prefix):
            return False
        if self.type is not None and op.type != self.type:
            return False
        state.count += 1
        return state.count >= self.count

    def describe(self) -> str:
        kind = f"{self.type} " if self.type else ""
        return f"after {self.count} {kind}{self.f} ops{_among(self.process_prefix)}"


@dataclass(frozen=True)
class AtProgress(Trigger):
    """Fires when an upload reports ``fraction`` of its bytes sent (a ``progress`` op)."""

    kind: ClassVar[str] = "at-progress"
    fraction: float
    process_prefix: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError("AtProgress needs 0 < fraction <= 1")

    def fires(self, op: Op | None, elapsed: float, state: TriggerState) -> bool:
        if op is None or op.f != "progress" or not _of(op, self.process_prefix):
            return False
        offset, size = op.value.get("offset"), op.value.get("size")
        if not isinstance(offset, int | float) or not isinstance(size, int | float) or size <= 0:
            return False
        return offset / size >= self.fraction

    def describe(self) -> str:
        return f"at {self.fraction:.0%} of an upload{_among(self.process_prefix)}"


@dataclass(frozen=True)
class WhileStreaming(Trigger):
    """Fires at the first ``output`` op: an exec command is streaming its output."""

    kind: ClassVar[str] = "while-streaming"
    process_prefix: str | None = None

    def fires(self, op: Op | None, elapsed: float, state: TriggerState) -> bool:
        return op is not None and op.f == "output" and _of(op, self.process_prefix)

    def describe(self) -> str:
        return f"while a command streams{_among(self.process_prefix)}"


TRIGGERS: dict[str, type[Trigger]] = {
    cls.kind: cls for cls in (AtTime, AfterOps, AtProgress, WhileStreaming)
}


def trigger_from_json(data: dict[str, Any]) -> Trigger:
    """The trigger :meth:`Trigger.to_json` wrote."""
    settings = {key: value for key, value in data.items() if key != "kind"}
    try:
        cls = TRIGGERS[str(data["kind"])]
    except KeyError:
        raise ValueError(f"unknown trigger {data.get('kind')!r}; "
                         f"known: {', '.join(TRIGGERS)}") from None
    return cls(**settings)


class TriggerState:
    """One trigger followed through one run: fed op by op, it fires once.

    ``fired_at`` is the elapsed time of the firing and ``cause`` the op that
    fired it (None for the clock).
    """

    def __init__(self, trigger: Trigger) -> None:
        self.trigger = trigger
        self.count = 0
        self.fired_at: float | None = None
        self.cause: Op | None = None

    @property
    def fired(self) -> bool:
        return self.fired_at is not None

    def feed(self, op: Op | None, elapsed: float) -> bool:
        """True exactly once: when this op (or, for None, the clock) makes the trigger fire."""
        if self.fired or not self.trigger.fires(op, elapsed, self):
            return False
        self.fired_at, self.cause = elapsed, op
        return True
