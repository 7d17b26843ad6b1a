"""The live display of ``lab scenario run``: one bar over the scenarios, one line for the
scenario running now (its ops, the faults applied, the errors seen), one line per verdict.

Written to the console given (stderr by default), so stdout keeps the results table;
on a console that is not a terminal rich prints the finished lines only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from lab.history import NEMESIS, Op
from lab.results import STYLES, ScenarioResult


class Progress:
    """``with Progress(console, names) as p``: ``begin(name)``, ``op(op)``..., ``end(result)``."""

    def __init__(self, console: Console, names: Sequence[str]) -> None:
        self.console = console
        self.bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                console=console, transient=True)
        self.total = self.bar.add_task("scenarios", total=len(names))
        self.current = self.bar.add_task("", total=None)
        self.counts: Counter[str] = Counter()
        self.name = ""

    def __enter__(self) -> Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.__exit__(exc_type, exc, tb)

    def begin(self, name: str) -> None:
        self.name, self.counts = name, Counter()
        self._show()

    def op(self, op: Op) -> None:
        if op.process == NEMESIS:
            self.counts[op.f] += 1
        else:
            self.counts["ops"] += 1
            if op.type in ("fail", "info") and op.f in ("disconnected", "run", "put"):
                self.counts["errors"] += 1
        self._show()

    def end(self, result: ScenarioResult) -> None:
        style = STYLES.get(result.status, "")
        failed = ", ".join(result.failed()) if result.failed() else ""
        why = f" ({failed})" if failed else (f" ({result.error})" if result.error else "")
        self.console.print(f"[{style}]{result.status:7}[/] {result.name}  "
                           f"{result.seconds:.1f} s{why}")
        self.bar.advance(self.total)

    def _show(self) -> None:
        c = self.counts
        self.bar.update(self.current, description=(
            f"{self.name}: {c['ops']} ops, {c['fault-apply']} faults applied, "
            f"{c['errors']} client errors"))
