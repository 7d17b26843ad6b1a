"""A sample plan and run for the tests of schedules, results and reports.

``Cut`` is a fault kind of the tests' own, so that these tests need none of
the Docker-backed fault families; :func:`cut_kind` makes it known to
``fault_from_json`` for the time of a test only (the registry is shared with
the fault families' own tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

from lab.faults.base import FAULT_KINDS, Family, Fault, FaultContext, Target
from lab.history import History, Op
from lab.invariants import check_all
from lab.results import RunRecord, RunTarget, ScenarioResult
from lab.schedule import Plan, ScheduledFault
from lab.triggers import AfterOps, AtTime
from tests.lab.invariants.builders import H, chat_life, fault, recv


@dataclass(frozen=True, kw_only=True)
class Cut(Fault):
    """A fault that does nothing: the tests only record and read its windows."""

    kind: ClassVar[str] = "test-cut"
    family: ClassVar[Family] = "stream"
    expected: ClassVar[str] = "the tests' own"
    concept: ClassVar[str] = "none"

    after_bytes: int = 0

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        return {}

    async def revert(self, ctx: FaultContext) -> None:
        return None


@contextmanager
def cut_kind() -> Iterator[None]:
    """``Cut`` registered for the duration of the block."""
    FAULT_KINDS[Cut.kind] = Cut
    try:
        yield
    finally:
        FAULT_KINDS.pop(Cut.kind, None)

CUT = Cut(target=Target(service="chat", client="obs.chat-1"), after_bytes=100)
FLEET = {"name": "obs", "seed": 7, "deadline": 60.0,
         "chat": {"clients": 2, "messages": 3, "interval": 0.05, "host": "gateway",
                  "port": 8000, "linger": 1.5, "liveness": 5.0}}
T0 = 1_700_000_000.0


def plan(seed: int = 7) -> Plan:
    return Plan("chat-cut", seed, (FLEET,),
                (ScheduledFault(CUT, AfterOps("recv", 2), 1.0),
                 ScheduledFault(Cut(target=Target(service="chat")), AtTime(4.0), 0.5)),
                {"invariants": ["chat.delivery", "chat.order"], "target": "netlab"})


def history() -> History:
    """obs.chat-1 misses seq 2 of obs.chat-0 while the cut is active."""
    a, b = "obs.chat-0", "obs.chat-1"
    return H(chat_life(a, T0 + 1, T0 + 8, sends={0: T0 + 2, 1: T0 + 2.5, 2: T0 + 3}),
             chat_life(b, T0 + 1, T0 + 8),
             recv(T0 + 2.1, b, a, 0), recv(T0 + 2.6, b, a, 1),
             fault(T0 + 2.7, T0 + 3.7, CUT.label()),
             [Op(T0 + 3.2, b, "info", "output", {"op": "x", "bytes": 10})])


def result(target: RunTarget = "netlab", error: str | None = None) -> ScenarioResult:
    hist = history()
    names = ["chat.delivery", "chat.order", "all.counters-baseline"]
    verdicts = () if error else tuple(check_all(names, hist, {}))
    return ScenarioResult(name="chat-cut", target=target, seed=7, plan=plan(), history=hist,
                          observations={"timeouts": {"chat_cutoff": 8.0}}, verdicts=verdicts,
                          started=T0, seconds=9.0, error=error)


def run(target: RunTarget = "netlab") -> RunRecord:
    return RunRecord(seed=7, target=target,
                     results=(result(target), result(target, error="StackError: no")))
