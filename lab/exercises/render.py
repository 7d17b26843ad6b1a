"""What ``lab check`` shows: a line per check as it ends, the table, and what to do next.

:func:`progress_line` is one check's verdict as soon as it is known;
:func:`table` the results (check, verdict, detail); :func:`failures` for
each failed check its concept, its hint and the line that runs it alone
again; :func:`summary` the last line. :func:`exit_status` is 0 when every
check passed, 1 otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.exercises.model import CheckResult, Exercise

PASS_STYLE = "green"
FAIL_STYLE = "bold red"


def progress_line(result: CheckResult) -> Text:
    """``pass  accepts-and-echoes`` / ``FAIL  serves-next-client``."""
    if result.passed:
        return Text.assemble(("pass", PASS_STYLE), f"  {result.check}")
    return Text.assemble(("FAIL", FAIL_STYLE), f"  {result.check}")


def table(exercise: Exercise, results: Sequence[CheckResult]) -> Table:
    """One row per check: its name, its verdict, the evidence."""
    role = results[0].role if results else ""
    title = f"exercise {exercise.number} {exercise.id}: the {role}"
    grid = Table(title=title, title_justify="left")
    grid.add_column("check", no_wrap=True)
    grid.add_column("verdict", no_wrap=True)
    grid.add_column("detail", overflow="fold")
    for result in results:
        verdict = Text("pass", PASS_STYLE) if result.passed else Text("FAIL", FAIL_STYLE)
        grid.add_row(Text(result.check), verdict, Text(result.detail))
    return grid


def failures(results: Sequence[CheckResult]) -> RenderableType:
    """For each failure: the concept it tests, the hint, and the replay line."""
    parts: list[RenderableType] = []
    for result in results:
        if result.passed:
            continue
        parts.append(Text.assemble(("\n" + result.check, FAIL_STYLE), f": {result.detail}"))
        parts.append(Text.assemble(("  concept: ", "bold"), result.concept))
        parts.append(Text.assemble(("  hint:    ", "bold"), result.hint))
        parts.append(Text.assemble(("  again:   ", "bold"), result.replay))
    return Group(*parts)


def summary(exercise: Exercise, results: Sequence[CheckResult]) -> Text:
    passed = sum(result.passed for result in results)
    style = PASS_STYLE if passed == len(results) else FAIL_STYLE
    text = f"{passed} of {len(results)} checks passed"
    if passed < len(results):
        text += f"; the concepts are explained in {exercise.doc}"
    return Text(text, style)


def show(console: Console, exercise: Exercise, results: Sequence[CheckResult]) -> None:
    """The table, the failures, the summary."""
    console.print(table(exercise, results))
    # Not wrapped: a replay line stays one line to copy.
    console.print(failures(results), soft_wrap=True)
    console.print(summary(exercise, results), soft_wrap=True)


def exit_status(results: Sequence[CheckResult]) -> int:
    return 0 if results and all(result.passed for result in results) else 1
