"""``lab report RUN.json``: a self-contained HTML page with a timeline per scenario.

Each scenario gets a timeline: the fault windows as bands across it, one
lane per client with its operations and errors as marks, the violations
marked on the lane of the process they concern (or the servers' lane), and
the verdict table under it. Python computes every position (percentages of
the scenario's time span, :func:`timeline`); the jinja2 template
``lab/templates/report.html.j2`` draws them with plain HTML and inline CSS:
no script, no external resource, no SVG written by hand. Hovering a mark
shows its op (the ``title`` attribute).

Marks are thinned on busy lanes (:data:`MAX_MARKS`): every error and
failure is kept, the routine ops are sampled evenly, and the lane says how
many it shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click
import jinja2

from lab.history import NEMESIS, Op
from lab.invariants.attribution import fault_windows
from lab.invariants.violations import Verdict, Violation
from lab.results import RunRecord, ScenarioResult

MAX_MARKS = 400
"""Marks drawn per lane at most (errors always are)."""
TICKS = 6
SERVERS_LANE = "servers"
TEMPLATE = "report.html.j2"


@dataclass(frozen=True)
class Mark:
    """Something at one instant on one lane: ``left`` in % of the span, ``css`` its class."""

    left: float
    css: str
    title: str


@dataclass(frozen=True)
class Band:
    """A fault window: from ``left`` %, ``width`` % wide."""

    left: float
    width: float
    label: str
    css: str


@dataclass(frozen=True)
class Lane:
    name: str
    marks: tuple[Mark, ...]
    violations: tuple[Mark, ...]
    shown: int
    total: int


@dataclass(frozen=True)
class Timeline:
    """One scenario drawn: its bands, lanes, axis ticks and verdicts."""

    result: ScenarioResult
    bands: tuple[Band, ...]
    lanes: tuple[Lane, ...]
    ticks: tuple[tuple[float, str], ...]
    verdicts: tuple[Verdict, ...]
    violations: tuple[tuple[str, Violation], ...]


def _css(op: Op) -> str:
    if op.type == "fail" or (op.type == "info" and ("error" in op.value or op.f == "garbled")):
        return "error"
    if op.type == "invoke":
        return "invoke"
    if op.type == "ok":
        return "ok"
    return "event"


def _title(op: Op, offset: float) -> str:
    value = json.dumps(op.value, sort_keys=True)
    return f"+{offset:.3f} s {op.type} {op.f} {value[:160]}"


def _thin(ops: list[Op]) -> list[Op]:
    """At most MAX_MARKS ops: all errors, then routine ops sampled evenly."""
    if len(ops) <= MAX_MARKS:
        return ops
    errors = [op for op in ops if _css(op) == "error"]
    routine = [op for op in ops if _css(op) != "error"]
    room = max(MAX_MARKS - len(errors), 0)
    step = len(routine) / room if room else 0
    sampled = [routine[int(i * step)] for i in range(room)] if room else []
    return sorted([*errors, *sampled], key=lambda op: op.time)


def timeline(result: ScenarioResult) -> Timeline:
    """The positions of everything drawn for one scenario."""
    ops = result.history.ops
    windows = fault_windows(ops)
    start = result.started
    end = max([start + result.seconds, *(op.time for op in ops),
               *(w.reverted for w in windows if w.reverted != float("inf"))])
    span = max(end - start, 1e-3)

    def at(time: float) -> float:
        return round(min(max((time - start) / span, 0.0), 1.0) * 100, 3)

    bands = tuple(Band(at(w.applied), round(max(at(min(w.reverted, end)) - at(w.applied), 0.3), 3),
                       w.label + (" (apply failed)" if w.failed else ""),
                       "band failed" if w.failed else "band")
                  for w in windows)
    violations = [(v.invariant, v) for verdict in result.verdicts for v in verdict.violations]
    lanes: list[Lane] = []
    names = [p for p in result.history.processes() if p != NEMESIS]
    if any(v.process not in names for _, v in violations):
        names.append(SERVERS_LANE)
    for name in names:
        own = [op for op in ops if op.process == name]
        shown = _thin(own)
        marks = tuple(Mark(at(op.time), _css(op), _title(op, op.time - start)) for op in shown)
        flagged = tuple(
            Mark(at(v.time if v.time is not None else end), "violation",
                 f"{invariant}: {v.message} [fault: {v.fault}]")
            for invariant, v in violations
            if (v.process if v.process in names else SERVERS_LANE) == name)
        lanes.append(Lane(name, marks, flagged, len(shown), len(own)))
    ticks = tuple((round(i * 100 / (TICKS - 1), 3), f"+{span * i / (TICKS - 1):.1f} s")
                  for i in range(TICKS))
    return Timeline(result, bands, tuple(lanes), ticks, result.verdicts, tuple(violations))


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("lab", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def render(run: RunRecord) -> str:
    """The HTML page of a run."""
    template = environment().get_template(TEMPLATE)
    return template.render(run=run, counts=run.counts(),
                           timelines=[timeline(result) for result in run.results])


def write_report(run: RunRecord, path: Path) -> Path:
    path.write_text(render(run), encoding="utf-8")
    return path


@click.command("report")
@click.argument("run_file", metavar="RUN.json",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write (default: RUN.html beside RUN.json).")
def cli(run_file: Path, output: Path | None) -> None:
    """Write a self-contained HTML report of a run: timelines, faults, verdicts."""
    try:
        # A report draws what happened, even when a plan's fault kind is no longer known.
        run = RunRecord.load(run_file, lenient=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{run_file} is not a run record: {exc}") from exc
    path = write_report(run, output or run_file.with_suffix(".html"))
    click.echo(f"wrote {path}")
