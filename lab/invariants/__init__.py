"""Invariants: pure checks of a run's history and observations (model: Jepsen's checkers).

Each invariant is a :data:`Checker`, a pure function of the history and the
observations taken after the run, returning a :class:`Verdict` (pass, fail
or unknown: see :mod:`lab.invariants.violations`). :func:`check_all` runs the
named ones and blames each violation on the fault active at its time
(:mod:`lab.invariants.attribution`).

Modules: ``chat``, ``exec``, ``upload`` (one per service), ``common``
(``all.*``); ``clients`` (a client's connections), ``observations`` (what
the checkers read besides the history).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from lab.history import History
from lab.invariants import chat, common, exec, upload
from lab.invariants.attribution import attribute
from lab.invariants.observations import Observations
from lab.invariants.violations import CONCEPTS, Verdict, Violation

Checker = Callable[[History, Observations], Verdict]

INVARIANTS: dict[str, Checker] = {
    "chat.delivery": chat.check_delivery,
    "chat.order": chat.check_order,
    "chat.cutoff": chat.check_cutoff,
    "exec.at-most-once": exec.check_at_most_once,
    "exec.intact": exec.check_intact,
    "exec.no-leftovers": exec.check_no_leftovers,
    "upload.complete-or-absent": upload.check_complete_or_absent,
    "upload.resume": upload.check_resume,
    "all.serves-new-clients": common.check_serves_new_clients,
    "all.counters-baseline": common.check_counters_baseline,
}

__all__ = ["CONCEPTS", "INVARIANTS", "Checker", "Observations", "Verdict", "Violation",
           "check", "check_all"]


def check(name: str, history: History, observations: Observations) -> Verdict:
    """Run one invariant; a checker that raises (malformed input) gives "unknown", never "pass"."""
    try:
        checker = INVARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown invariant {name!r}; known: {', '.join(INVARIANTS)}") from None
    try:
        verdict = checker(history, observations)
    except Exception as exc:  # a bad op or observation must not hide the other verdicts
        return Verdict(name, "unknown", detail=f"checker failed: {type(exc).__name__}: {exc}")
    return replace(verdict, violations=tuple(attribute(verdict.violations, history)))


def check_all(names: Iterable[str], history: History,
              observations: Observations) -> list[Verdict]:
    """The verdicts of the named invariants, in the order given, violations attributed."""
    return [check(name, history, observations) for name in names]
