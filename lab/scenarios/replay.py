"""``lab replay RUN.json``: run a saved run's plans again and compare the verdicts.

The plans saved in the run (fleets, fault schedule, the proxy's seed) are run
as they are, on a lab of the run's target; nothing is drawn anew. The
comparison is per scenario and invariant: the replay reaches the same verdicts
when every status (pass, fail, unknown, or the scenario's error) is the same.
Exit status 0 when they all are, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lab.results import RunRecord, ScenarioResult
from lab.scenarios.cli import run
from services.runtime.options import USAGE_ERROR, exit_statuses


def verdicts(result: ScenarioResult) -> dict[str, str]:
    """``invariant -> status`` of one result; an error is the whole scenario's verdict."""
    if result.error is not None:
        return {"(run)": "error"}
    return {v.invariant: v.status for v in result.verdicts}


def differences(before: RunRecord, after: RunRecord) -> list[tuple[str, str, str, str]]:
    """``(scenario, invariant, before, after)`` for every verdict that changed."""
    found = []
    again = {r.name: r for r in after.results}
    for old in before.results:
        new = again.get(old.name)
        old_v = verdicts(old)
        new_v = verdicts(new) if new is not None else {}
        for invariant in sorted(set(old_v) | set(new_v)):
            a, b = old_v.get(invariant, "absent"), new_v.get(invariant, "absent")
            if a != b:
                found.append((old.name, invariant, a, b))
    return found


@click.command("replay", epilog=exit_statuses({
    "0": "the same verdicts as the saved run", "1": "a verdict changed (the table shows which)",
    **USAGE_ERROR}))
@click.argument("run_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scenario", "names", multiple=True, help="Replay only these scenarios.")
@click.option("--project", default=None, help="Use this running compose project.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the replay's run as JSON here.")
def cli(run_file: Path, names: tuple[str, ...], project: str | None, out: Path | None) -> None:
    """Run RUN_FILE's plans again; exit 0 if the verdicts are the same."""
    before = RunRecord.load(run_file)
    chosen = [r for r in before.results if not names or r.name in names]
    missing = [r.name for r in chosen if r.plan is None]
    if missing:
        raise click.UsageError(f"no plan saved for {', '.join(missing)}")
    if not chosen:
        raise click.UsageError("no scenario of the run matches")
    before = RunRecord(seed=before.seed, target=before.target, results=tuple(chosen))
    after = run(plans=[r.plan for r in chosen if r.plan is not None], seed=before.seed,
                target=before.target, project=project, out=out)
    changed = differences(before, after)
    console = Console()
    if not changed:
        console.print(f"[green]same verdicts[/] for {len(chosen)} scenario(s)")
        sys.exit(0)
    report = Table("scenario", "invariant", "saved", "replayed", title="verdicts that changed")
    for row in changed:
        report.add_row(*row)
    console.print(report)
    sys.exit(1)
