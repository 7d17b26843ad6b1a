"""Fault windows from the nemesis ops, and the fault each violation is blamed on.

:func:`lab.faults.base.applied` records ``info fault-apply`` and ``info
fault-revert`` ops (process ``nemesis``) with the fault's ``label``
(``kind(target)``); a :class:`FaultWindow` is one such pair. An apply that
failed (its value has ``error``) still opens a window: part of the fault may
have taken effect before the error. An apply with no revert in the history
(a run cut short) stays open to the end of time.

:func:`attribute` names, for each violation, the fault(s) active at its
time; else the last fault reverted before it (a fault's effects outlive its
window: a connection reset at the revert is noticed a moment later); else
``"none"``. A violation with no time (found in the observations taken after
the run) is blamed like one at the end of the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from lab.history import NEMESIS, History, Op
from lab.invariants.violations import NO_FAULT, Violation


@dataclass(frozen=True)
class FaultWindow:
    """One fault's time between its ``fault-apply`` and its ``fault-revert``."""

    label: str
    kind: str
    family: str
    applied: float
    reverted: float = math.inf
    failed: bool = False

    def active_at(self, time: float) -> bool:
        return self.applied <= time <= self.reverted

    def overlaps(self, start: float, end: float) -> bool:
        """Whether the window and ``[start, end]`` share an instant."""
        return self.applied <= end and start <= self.reverted

    def target(self) -> dict[str, str]:
        """The target's fields, parsed back from the label ``kind(k=v,k=v)``."""
        inside = self.label.partition("(")[2].rpartition(")")[0]
        pairs = (part.partition("=") for part in inside.split(",") if "=" in part)
        return {key: value for key, _, value in pairs}

    def hits(self, process: str) -> bool:
        """Whether the fault is aimed at ``process`` itself (its name, or its fleet)."""
        target = self.target()
        fleet = process.rpartition(".")[0]
        return target.get("client") == process or (bool(fleet) and target.get("fleet") == fleet)


def fault_windows(history: Iterable[Op]) -> list[FaultWindow]:
    """Every fault window, in order of application.

    A revert closes the earliest open window with the same label.
    """
    windows: list[FaultWindow] = []
    open_: dict[str, list[int]] = {}
    for op in history:
        if op.process != NEMESIS:
            continue
        label = str(op.value.get("fault", op.value.get("kind", "?")))
        if op.f == "fault-apply":
            open_.setdefault(label, []).append(len(windows))
            windows.append(FaultWindow(label, str(op.value.get("kind", "")),
                                       str(op.value.get("family", "")), op.time,
                                       failed="error" in op.value))
        elif op.f == "fault-revert" and open_.get(label):
            index = open_[label].pop(0)
            windows[index] = replace(windows[index], reverted=op.time)
    return windows


def silenced_by(process: str, ops: Iterable[Op], windows: list[FaultWindow]) -> FaultWindow | None:
    """The container fault aimed at ``process`` after which it wrote nothing (killed), if any.

    A client killed by a fault cannot report how its work ended; a paused one
    can, once thawed, so it is not silenced.
    """
    last = max((op.time for op in ops if op.process == process), default=None)
    for window in windows:
        if (window.family == "container" and window.hits(process)
                and (last is None or last <= window.applied)):
            return window
    return None


def blame(windows: list[FaultWindow], time: float | None) -> str:
    """The fault(s) to blame for something that happened at ``time`` (None: the end).

    Several labels (active together, or reverted at the same instant) are
    joined with ", ", in order of application.
    """
    at = math.inf if time is None else time
    active = [w.label for w in windows if w.active_at(at)]
    if active:
        return ", ".join(dict.fromkeys(active))
    before = [w for w in windows if w.reverted < at]
    if before:
        last = max(w.reverted for w in before)
        return ", ".join(dict.fromkeys(w.label for w in before if w.reverted == last))
    return NO_FAULT


def attribute(violations: Iterable[Violation], history: History | Iterable[Op]) -> list[Violation]:
    """The violations with ``fault`` filled in (kept when already set)."""
    windows = fault_windows(history)
    return [v if v.fault is not None else replace(v, fault=blame(windows, v.time))
            for v in violations]
