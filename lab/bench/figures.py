"""Figures: one measured value, the baselines measured in the same run, and their ratios.

A :class:`Figure` is what a section reports: ``value`` in ``unit``, whether
higher is better, ``baselines`` (name -> value, same unit, same run) and the
issue's ``goal`` as text. ``ratio(name)`` is always ``value / baseline``; the
table says which way is better, so 0.5x reads "half the baseline's" whatever
the unit. A :class:`BenchRecord` is a whole run: every figure, the machine
(cores, kernel, Python), the host's load samples, the duration, ``quick``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

RECORD_FORMAT = 1


@dataclass(frozen=True)
class Figure:
    """One measurement of netlab and its baselines (``notes``: how it was measured)."""

    section: str
    name: str
    value: float
    unit: str
    higher_is_better: bool = True
    baselines: dict[str, float] = field(default_factory=dict)
    goal: str | None = None
    notes: str = ""

    def ratio(self, baseline: str) -> float:
        """``value / baselines[baseline]`` (nan when the baseline is 0 or missing)."""
        base = self.baselines.get(baseline)
        if not base:
            return math.nan
        return self.value / base

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratios"] = {name: self.ratio(name) for name in self.baselines}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figure:
        known = {k: v for k, v in data.items() if k != "ratios"}
        known["baselines"] = {str(k): float(v) for k, v in known.get("baselines", {}).items()}
        return cls(**known)


@dataclass(frozen=True)
class BenchRecord:
    """A whole ``lab bench`` run."""

    figures: tuple[Figure, ...]
    machine: dict[str, Any]
    host_load: tuple[float, ...]  # the host's 1-minute load average, sampled during the run
    started: float
    seconds: float
    quick: bool
    sections: tuple[str, ...]
    errors: dict[str, str] = field(default_factory=dict)  # section -> why it could not run

    def to_json(self) -> dict[str, Any]:
        return {"format": RECORD_FORMAT, "figures": [f.to_json() for f in self.figures],
                "machine": self.machine, "host_load": list(self.host_load), "started": self.started,
                "seconds": self.seconds, "quick": self.quick, "sections": list(self.sections),
                "errors": self.errors}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchRecord:
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"bench record format {data.get('format')!r} is not {RECORD_FORMAT}")
        return cls(figures=tuple(Figure.from_json(f) for f in data["figures"]),
                   machine=dict(data["machine"]), host_load=tuple(data["host_load"]),
                   started=float(data["started"]), seconds=float(data["seconds"]),
                   quick=bool(data["quick"]), sections=tuple(data["sections"]),
                   errors=dict(data.get("errors") or {}))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> BenchRecord:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def _number(value: float) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(record: BenchRecord) -> Table:
    """Every figure: its value, each baseline with the ratio, the goal."""
    load = (f"load {min(record.host_load):.1f}-{max(record.host_load):.1f}" if record.host_load
            else "load ?")
    title = (f"lab bench{' --quick' if record.quick else ''}: {record.machine.get('cores', '?')} "
             f"cores, {load}, {record.seconds:.0f} s")
    out = Table(title=title)
    for column in ("figure", "netlab", "baselines (ratio netlab/baseline)", "better", "goal"):
        out.add_column(column)
    for figure in record.figures:
        baselines = "\n".join(f"{name}: {_number(value)} ({_number(figure.ratio(name))}x)"
                              for name, value in figure.baselines.items()) or "—"
        out.add_row(f"{figure.section}: {figure.name}", f"{_number(figure.value)} {figure.unit}",
                    baselines, "higher" if figure.higher_is_better else "lower",
                    figure.goal or "")
    for section, error in record.errors.items():
        out.add_row(f"{section}: (not measured)", "error", error[-300:], "", "")
    return out


def markdown(record: BenchRecord) -> str:
    """The run as a Markdown table (for docs/performance.md), the machine and load first."""
    load = (f"{min(record.host_load):.1f}-{max(record.host_load):.1f}" if record.host_load
            else "?")
    lines = [f"{record.machine.get('cores', '?')} cores, {record.machine.get('platform', '?')}, "
             f"Python {record.machine.get('python', '?')}; host load (1 min) {load}; "
             f"{record.seconds:.0f} s{' (--quick)' if record.quick else ''}.", "",
             "| figure | netlab | baselines (netlab/baseline) | better | goal |",
             "| --- | --- | --- | --- | --- |"]
    for figure in record.figures:
        baselines = "<br>".join(f"{name}: {_number(value)} ({_number(figure.ratio(name))}x)"
                                for name, value in figure.baselines.items()) or "—"
        lines.append(f"| {figure.section}: {figure.name} | {_number(figure.value)} {figure.unit} "
                     f"| {baselines} | {'higher' if figure.higher_is_better else 'lower'} "
                     f"| {figure.goal or ''} |")
    for section, error in record.errors.items():
        lines.append(f"| {section}: not measured | {error[-200:]} | | | |")
    return "\n".join(lines) + "\n"
