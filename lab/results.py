"""A run's results: each scenario's plan, history, observations and verdicts; table, JSON, JUnit.

A :class:`RunRecord` is what ``lab scenario run`` saves (``RUN.json``) and
what ``lab replay`` and ``lab report`` read: everything needed to check the
verdicts again or draw them, with nothing that depends on the machine.
:func:`table` is the results table of the console, :func:`junit_xml` the
file CI keeps (one test case per scenario and invariant).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from rich.table import Table
from rich.text import Text

from lab.history import History
from lab.invariants.violations import Verdict, Violation
from lab.schedule import Plan

RUN_FORMAT = 1
RunTarget = Literal["netlab", "twins"]
TARGETS: tuple[RunTarget, ...] = ("netlab", "twins")
ScenarioStatus = Literal["pass", "fail", "unknown", "error"]
STYLES = {"pass": "green", "fail": "bold red", "unknown": "yellow", "error": "bold magenta"}


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario run against one target.

    ``started`` is the wall-clock time the scenario started (the history's
    clock), ``seconds`` how long it took; ``error`` says why it could not run
    to its verdicts (then ``verdicts`` may be empty).
    """

    name: str
    target: RunTarget
    seed: int
    plan: Plan | None
    history: History
    observations: dict[str, Any]
    verdicts: tuple[Verdict, ...]
    started: float
    seconds: float
    error: str | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target {self.target!r} is not one of {TARGETS}")
        object.__setattr__(self, "verdicts", tuple(self.verdicts))

    @property
    def status(self) -> ScenarioStatus:
        """``error``, else ``fail`` if any verdict fails, else ``unknown`` if any is
        (or there is none), else ``pass``."""
        statuses = {v.status for v in self.verdicts}
        if self.error is not None:
            return "error"
        if "fail" in statuses:
            return "fail"
        return "unknown" if "unknown" in statuses or not statuses else "pass"

    def verdict(self, invariant: str) -> Verdict:
        for verdict in self.verdicts:
            if verdict.invariant == invariant:
                return verdict
        raise KeyError(invariant)

    def failed(self) -> list[str]:
        """The invariants that failed, in order."""
        return [v.invariant for v in self.verdicts if v.status == "fail"]

    def fault_labels(self) -> list[str]:
        """The faults the plan scheduled."""
        return [f.fault.label() for f in self.plan.faults] if self.plan else []

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "target": self.target, "seed": self.seed,
                "plan": self.plan.to_json() if self.plan else None,
                "history": self.history.to_json(), "observations": self.observations,
                "verdicts": [v.to_json() for v in self.verdicts], "started": self.started,
                "seconds": self.seconds, "error": self.error}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, lenient: bool = False) -> ScenarioResult:
        """The result :meth:`to_json` wrote; ``lenient`` drops a plan that no longer
        loads (a fault kind since renamed) instead of refusing the whole result."""
        plan = None
        if data.get("plan"):
            try:
                plan = Plan.from_json(data["plan"])
            except (ValueError, KeyError, TypeError):
                if not lenient:
                    raise
        return cls(name=str(data["name"]), target=cast(RunTarget, data["target"]),
                   seed=int(data["seed"]), plan=plan,
                   history=History.from_json(data.get("history", [])),
                   observations=dict(data.get("observations") or {}),
                   verdicts=tuple(Verdict.from_json(v) for v in data.get("verdicts", [])),
                   started=float(data["started"]), seconds=float(data["seconds"]),
                   error=data.get("error"))


@dataclass(frozen=True)
class RunRecord:
    """Every scenario of one ``lab scenario run`` (one seed, one target)."""

    seed: int
    target: RunTarget
    results: tuple[ScenarioResult, ...] = field(default_factory=tuple)
    version: int = RUN_FORMAT

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", tuple(self.results))

    def counts(self) -> dict[str, int]:
        """How many scenarios ended in each status."""
        counts = dict.fromkeys(STYLES, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "seed": self.seed, "target": self.target,
                "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: dict[str, Any], *, lenient: bool = False) -> RunRecord:
        """The run :meth:`to_json` wrote (``lenient``: see :meth:`ScenarioResult.from_json`)."""
        version = data.get("version")
        if version != RUN_FORMAT:
            raise ValueError(f"run format {version!r} is not {RUN_FORMAT}")
        return cls(seed=int(data["seed"]), target=cast(RunTarget, data["target"]),
                   results=tuple(ScenarioResult.from_json(r, lenient=lenient)
                                 for r in data["results"]))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, *, lenient: bool = False) -> RunRecord:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")), lenient=lenient)


def first_violation(verdict: Verdict) -> Violation | None:
    """The earliest violation with a time (else the first one)."""
    timed = [v for v in verdict.violations if v.time is not None]
    if timed:
        return min(timed, key=lambda v: v.time or 0.0)
    return verdict.violations[0] if verdict.violations else None


def _offset(result: ScenarioResult, time: float | None) -> str:
    return "" if time is None else f"+{time - result.started:.1f} s"


def table(run: RunRecord) -> Table:
    """The results table: scenario, fault, invariant, verdict, time.

    A failing row names the fault its violations are blamed on and the
    concept the invariant teaches, with the first violation; its time is
    when that happened, in seconds into the scenario. Other rows show the
    faults the scenario scheduled and how long it took.
    """
    counts = ", ".join(f"{n} {status}" for status, n in run.counts().items() if n)
    grid = Table(title=f"netlab lab run: seed {run.seed}, target {run.target}",
                 caption=f"{len(run.results)} scenario(s): {counts or 'none'}",
                 show_lines=True)
    for column in ("scenario", "fault", "invariant", "verdict", "time"):
        grid.add_column(column, overflow="fold")
    for result in run.results:
        scheduled = Text(", ".join(result.fault_labels()) or "no fault", style="dim")
        name = Text(result.name, style="bold")
        if result.error is not None:
            grid.add_row(name, scheduled, "", _verdict_cell("error", result.error),
                         f"{result.seconds:.1f} s")
        for verdict in result.verdicts:
            first = first_violation(verdict)
            if first is not None:
                fault = Text(", ".join(verdict.faults()) or "none", style="bold")
                cell = _verdict_cell("fail", verdict.concept,
                                     f"{first.process or 'server'}: {first.message}")
                time = _offset(result, first.time)
            else:
                fault = scheduled
                cell = _verdict_cell(verdict.status, verdict.detail)
                time = f"{result.seconds:.1f} s"
            grid.add_row(name, fault, verdict.invariant, cell, time)
            name, scheduled = Text(""), Text("")
    return grid


def _verdict_cell(status: str, *lines: str) -> Text:
    cell = Text(status, style=STYLES[status])
    for line in lines:
        if line:
            cell.append("\n" + line, style="italic" if line is lines[0] else "dim")
    return cell


def junit_xml(run: RunRecord) -> str:
    """The run as JUnit XML: a suite per scenario, a test case per invariant.

    A failing verdict is a ``failure`` (its message the first violation,
    its text every violation with its fault and the concept); an unknown
    verdict is ``skipped`` with the reason; a scenario that could not run
    is one test case ``run`` with an ``error``.
    """
    counts = run.counts()
    cases = sum(max(len(r.verdicts), 1 if r.error else 0) for r in run.results)
    root = ET.Element("testsuites", name=f"netlab lab ({run.target}, seed {run.seed})",
                      tests=str(cases),
                      time=f"{sum(r.seconds for r in run.results):.3f}")
    for result in run.results:
        suite_name = f"lab.{run.target}.{result.name}"
        statuses = [v.status for v in result.verdicts]
        suite = ET.SubElement(
            root, "testsuite", name=suite_name, tests=str(len(statuses) or 1),
            failures=str(statuses.count("fail")), skipped=str(statuses.count("unknown")),
            errors="1" if result.error else "0", time=f"{result.seconds:.3f}")
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="seed", value=str(result.seed))
        for label in result.fault_labels():
            ET.SubElement(properties, "property", name="fault", value=label)
        if result.error is not None:
            case = ET.SubElement(suite, "testcase", classname=suite_name, name="run",
                                 time=f"{result.seconds:.3f}")
            ET.SubElement(case, "error", message=result.error).text = result.error
        for verdict in result.verdicts:
            case = ET.SubElement(suite, "testcase", classname=suite_name,
                                 name=verdict.invariant, time=f"{result.seconds:.3f}")
            first = first_violation(verdict)
            if first is not None:
                failure = ET.SubElement(case, "failure", message=first.message,
                                        type=verdict.invariant)
                failure.text = "\n".join(
                    [*(f"[{v.fault}] {v.process or 'server'} {_offset(result, v.time)}: "
                       f"{v.message}" for v in verdict.violations),
                     f"concept: {verdict.concept}"])
            elif verdict.status == "unknown":
                ET.SubElement(case, "skipped", message=verdict.detail)
    root.set("failures", str(sum(len(r.failed()) for r in run.results)))
    root.set("errors", str(counts["error"]))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
