"""The reference tables of ``docs/harness.md``, made from the code they describe.

Each table sits in the document between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->``; ``tests/lab/test_reference.py`` checks that the
document holds exactly what :func:`tables` makes, and
``python -m lab.reference docs/harness.md`` rewrites them after a change.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from lab.faults.base import FAULT_KINDS, Fault
from lab.invariants import CONCEPTS, INVARIANTS
from lab.scenarios.catalog import SCENARIOS
from lab.schedule import FAULT_MODULES

FAMILIES = ("stream", "peer", "container", "network")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _settings(cls: type[Fault]) -> str:
    shown = []
    for f in dataclasses.fields(cls):
        if f.name == "target":
            continue
        default = f.default if f.default is not dataclasses.MISSING else "…"
        shown.append(f"`{f.name}={default}`")
    return ", ".join(shown) or "—"


def faults_table() -> str:
    """Every fault kind: family, settings, expected outcome, the concept it teaches."""
    for module in FAULT_MODULES:
        importlib.import_module(module)
    rows = ["| fault | family | settings | expected outcome (correct servers and clients) "
            "| concept |", "| --- | --- | --- | --- | --- |"]
    for family in FAMILIES:
        for kind, cls in FAULT_KINDS.items():
            if cls.family == family and cls.__module__.startswith("lab.faults."):
                rows.append(f"| `{kind}` | {family} | {_settings(cls)} | {_cell(cls.expected)} "
                             f"| {_cell(cls.concept)} |")
    return "\n".join(rows)


def scenarios_table() -> str:
    """Every named scenario, its fault family, what it does and what it checks."""
    rows = ["| scenario | family | what happens | invariants |", "| --- | --- | --- | --- |"]
    for scenario in SCENARIOS.values():
        checked = ", ".join(f"`{name}`" for name in scenario.plan(1).settings["invariants"])
        rows.append(f"| `{scenario.name}` | {scenario.family} | {_cell(scenario.summary)} "
                    f"| {checked} |")
    return "\n".join(rows)


def invariants_table() -> str:
    """Every invariant and the concept a violation of it teaches."""
    rows = ["| invariant | a violation teaches |", "| --- | --- |"]
    rows += [f"| `{name}` | {_cell(CONCEPTS.get(name, ''))} |" for name in INVARIANTS]
    return "\n".join(rows)


TABLES: dict[str, Callable[[], str]] = {
    "faults": faults_table,
    "scenarios": scenarios_table,
    "invariants": invariants_table,
}


def section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:begin -->\n)(.*?)(<!-- {name}:end -->)", re.DOTALL)


def rewrite(text: str) -> str:
    """``text`` with every table between its markers made anew."""
    for name, make in TABLES.items():
        text = section(name).sub(partial(_fill, make()), text)
    return text


def _fill(table: str, found: re.Match[str]) -> str:
    return f"{found[1]}{table}\n{found[3]}"


def main(argv: list[str]) -> int:
    for name in argv or ["docs/harness.md"]:
        path = Path(name)
        path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
