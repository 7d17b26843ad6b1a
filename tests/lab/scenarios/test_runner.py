"""The runner's bookkeeping without Docker: ops feed the history, the peers and the triggers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import trio

from lab.faults.base import Target
from lab.faults.container import Pause
from lab.history import Op
from lab.scenarios.runner import Run, time_limit
from lab.scenarios.session import LabSession
from lab.schedule import Plan, ScheduledFault
from lab.triggers import AfterOps, AtTime


@dataclass
class FakeContext:
    history: Any = None
    peers: dict[str, str] = field(default_factory=dict)

    def note_connects(self, ops: list[Op]) -> None:
        for op in ops:
            if op.f == "connect" and op.type == "ok":
                self.peers[op.process] = op.value["local"]


@dataclass
class FakeSession:
    context: FakeContext = field(default_factory=FakeContext)
    target: str = "netlab"


def plan(*faults: ScheduledFault) -> Plan:
    return Plan(scenario="s", seed=1, fleets=({"name": "f", "deadline": 30.0},), faults=faults)


def pause(trigger: Any, duration: float = 1.0) -> ScheduledFault:
    return ScheduledFault(Pause(target=Target(service="chat")), trigger, duration)


def run_of(the_plan: Plan) -> Run:
    return Run(the_plan, cast(LabSession, FakeSession()))


async def test_ops_join_the_history_and_teach_the_peers() -> None:
    run = run_of(plan())
    run.feed(Op(1.0, "f.chat-0", "ok", "connect", {"local": "10.0.0.2:4000"}))
    assert [op.f for op in run.history] == ["connect"]
    assert run.context.peers == {"f.chat-0": "10.0.0.2:4000"}
    assert run.context.history is run.history


async def test_a_protocol_point_fires_its_fault_once() -> None:
    run = run_of(plan(pause(AfterOps("recv", 2))))
    recv = Op(1.0, "f.chat-0", "info", "recv", {"from": "f.chat-1", "seq": 1})
    run.feed(recv)
    assert not run.fired[0].is_set()
    run.feed(recv)
    assert run.fired[0].is_set()


async def test_a_time_trigger_counts_from_the_fleets_launch() -> None:
    run = run_of(plan(pause(AtTime(0.5))))
    run.feed(None)
    assert not run.fired[0].is_set()  # not launched: the clock has not started
    run.launched = trio.current_time() - 1.0
    run.feed(None)
    assert run.fired[0].is_set()


async def test_a_fault_whose_trigger_never_comes_is_skipped_when_the_fleets_end() -> None:
    run = run_of(plan(pause(AfterOps("recv", 100))))
    done = trio.Event()
    done.set()
    await run.run_fault(0, run.plan.faults[0], done)
    [op] = run.history.ops
    assert (op.process, op.f) == ("nemesis", "fault-skipped")
    assert run.errors == []


def test_the_time_limit_covers_the_deadline_and_the_fault_windows() -> None:
    assert time_limit(plan(pause(AtTime(0), 5.0))) >= 30.0 + 5.0
