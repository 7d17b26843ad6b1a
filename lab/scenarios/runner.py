"""Runs one plan: fleets in containers, faults on their triggers, observations, verdicts.

The order of a run:

1. reset the gateway's fault proxies (no toxic left, randomness seeded from the plan);
2. probe: a new client of each service is served, and the counters (the baseline);
3. start every fleet (a container each); each op a fleet prints joins the history
   as it comes and is fed to every fault's trigger; the run's clock starts when
   the fleets are launched (a container takes about a second to start, so a
   fault at 0 s is in place before the first client connects), and a ticker
   feeds the clock alone to time triggers;
4. a fault whose trigger fires is applied, held ``duration`` seconds and
   reverted (:func:`lab.faults.base.applied`: the revert runs in ``finally``);
5. when every fleet has ended, faults not yet fired are dropped (recorded as
   ``fault-skipped``) and those in their window are reverted (a window ends
   after its ``duration`` or with the workload, whichever comes first);
6. after ``settle`` seconds, probe again and observe the servers' containers;
7. check the plan's invariants; each violation names the fault active then.

Resource handling: fleets and faults run in one nursery; leaving it, by end
or error, has reverted every applied fault and removed every container this
run created (``lab.containers``).
Error handling: a fault that cannot be applied, a fleet that exits with an
error of its own, or a run past its time limit makes the result an
``error`` with the reason; it is never mistaken for a pass.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from lab.containers import run_fleet
from lab.faults.base import applied
from lab.history import NEMESIS, History, Op
from lab.invariants import check_all
from lab.observe import observe
from lab.results import ScenarioResult
from lab.scenarios.session import LabSession
from lab.schedule import Plan, ScheduledFault
from lab.triggers import TriggerState

TICK = 0.1  # seconds between clock-only trigger checks
RUN_MARGIN = 90.0  # seconds a run may take beyond its longest fleet deadline
SETTLE_WAIT = 20.0  # seconds the last probe waits at most for the counters' baseline
KILLED = 137  # a fleet container's status after SIGKILL (the kill-client fault)

OnOp = Callable[[Op], None]


@dataclass
class Run:
    """The state of one running plan (history, triggers, errors)."""

    plan: Plan
    session: LabSession
    on_op: OnOp | None = None
    history: History = field(default_factory=History)
    errors: list[str] = field(default_factory=list)
    fleets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.states = [TriggerState(sf.trigger) for sf in self.plan.faults]
        self.fired = [trio.Event() for _ in self.plan.faults]
        self.launched: float | None = None
        self.context = self.session.context
        self.context.history = self.history
        self.context.peers.clear()

    def elapsed(self) -> float:
        return 0.0 if self.launched is None else trio.current_time() - self.launched

    def feed(self, op: Op | None) -> None:
        """Add ``op`` (None: only time passed) and fire the triggers it completes."""
        if op is not None:
            self.history.append(op)
            self.context.note_connects([op])
            if self.on_op is not None:
                self.on_op(op)
        elapsed = self.elapsed()
        for state, fired in zip(self.states, self.fired, strict=True):
            if not fired.is_set() and state.feed(op, elapsed):
                fired.set()

    def note(self, f: str, **value: Any) -> None:
        op = Op(time.time(), NEMESIS, "info", f, value)
        self.history.append(op)
        if self.on_op is not None:
            self.on_op(op)

    async def run_fault(self, index: int, scheduled: ScheduledFault,
                        fleets_done: trio.Event) -> None:
        fired = self.fired[index]
        async with trio.open_nursery() as race:
            async def wait_done() -> None:
                await fleets_done.wait()
                race.cancel_scope.cancel()
            race.start_soon(wait_done)
            await fired.wait()
            race.cancel_scope.cancel()
        if not fired.is_set():
            self.note("fault-skipped", fault=scheduled.fault.label(),
                      trigger=scheduled.trigger.describe())
            return
        try:
            async with applied(scheduled.fault, self.context, self.history):
                with trio.move_on_after(scheduled.duration):
                    await fleets_done.wait()
        except Exception as exc:  # recorded; the run's result becomes an error
            self.errors.append(f"fault {scheduled.fault.label()}: {type(exc).__name__}: {exc}")

    async def run_fleet(self, spec: dict[str, Any]) -> None:
        name = str(spec["name"])
        async with run_fleet(self.context, name, json.dumps(spec)) as program:
            async for line in program.lines:
                try:
                    op = Op.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # not an op: a fleet prints nothing else, but never trust a stream
                self.feed(op)
            end = await program.wait()
        self.fleets[name] = {"status": end.status, "stderr": end.stderr[-2000:]}
        if end.status not in (0, KILLED):
            self.errors.append(f"fleet {name} exited {end.status}: {end.stderr.strip()[-500:]}")

    async def ticker(self) -> None:
        while True:
            await trio.sleep(TICK)
            self.feed(None)

    async def run_fleets_and_faults(self) -> None:
        fleets_done = trio.Event()
        async with trio.open_nursery() as faults:
            for index, scheduled in enumerate(self.plan.faults):
                faults.start_soon(self.run_fault, index, scheduled, fleets_done)
            async with trio.open_nursery() as fleets:
                ticker = trio.CancelScope()

                async def tick() -> None:
                    with ticker:
                        await self.ticker()
                self.launched = trio.current_time()
                fleets.start_soon(tick)
                async with trio.open_nursery() as each:
                    for spec in self.plan.fleets:
                        each.start_soon(self.run_fleet, spec)
                ticker.cancel()
            fleets_done.set()


def time_limit(plan: Plan) -> float:
    """Seconds a run of ``plan`` may take at most (fleets, faults, probes)."""
    deadline = max((float(f.get("deadline", 60.0)) for f in plan.fleets), default=60.0)
    holds = sum(sf.duration for sf in plan.faults if sf.duration < deadline)
    return deadline + holds + RUN_MARGIN


async def run_plan(plan: Plan, session: LabSession, *, on_op: OnOp | None = None) -> ScenarioResult:
    """Run ``plan`` on ``session``'s lab; its result with verdicts (or an error)."""
    run = Run(plan, session, on_op)
    services = tuple(plan.settings.get("services", ()))
    settle = float(plan.settings.get("settle", 2.0))
    observations: dict[str, Any] = {"services": list(services),
                                    "timeouts": plan.settings.get("timeouts", {})}
    started, clock = time.time(), trio.current_time()
    error: str | None = None
    try:
        with trio.fail_after(time_limit(plan)):
            await session.context.proxy_request(
                "POST", "/reset", {"seed": int(plan.settings.get("proxy_seed", plan.seed))})
            observations["probe_before"] = await session.probe(services)
            await run.run_fleets_and_faults()
            await trio.sleep(settle)
            observations["probe_after"] = await session.probe(
                services, settle=SETTLE_WAIT, baseline=observations["probe_before"])
            observations.update(await observe(session.context, since=started,
                                              services=tuple(s for s in services
                                                             if s in ("exec", "upload"))))
    except trio.TooSlowError:
        error = f"the run took over {time_limit(plan):g} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    observations["fleets"] = run.fleets
    if run.errors:
        error = "; ".join(run.errors + ([error] if error else []))
    history = run.history.sorted()
    names = plan.settings.get("invariants", [])
    verdicts = check_all(names, history, observations) if error is None else []
    return ScenarioResult(name=plan.scenario, target=session.target, seed=plan.seed, plan=plan,
                          history=history, observations=observations, verdicts=tuple(verdicts),
                          started=started, seconds=round(trio.current_time() - clock, 3),
                          error=error)
