"""``lab scenario list`` and ``lab scenario run NAME...|--all``.

``run`` starts a lab of its own (netlab's servers, or ``--target twins``)
on free loopback ports, or uses a running one (``--project``), runs each
scenario with a live progress display, prints the results table and writes
the run as JSON (``--out``; by default ``lab-runs/TIME-TARGET-seedN.json``:
every run is saved, so any of them can be replayed), JUnit XML (``--junit``)
and HTML (``--html``).
Exit status: 0 when every scenario passed, 1 when one failed or could not
run, 2 for a usage error.

The click command only parses; :func:`run` does the work (keyword-only).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click
import trio
from rich.console import Console

from lab.faults.network import netem_available
from lab.results import TARGETS, RunRecord, RunTarget, ScenarioResult, junit_xml, table
from lab.scenarios.catalog import SCENARIOS
from lab.scenarios.progress import Progress
from lab.scenarios.runner import run_plan
from lab.scenarios.session import LabSession
from lab.schedule import Plan
from services.runtime.options import USAGE_ERROR, exit_statuses

DEFAULT_SEED = 1
RUNS_DIR = Path("lab-runs")


def default_out(target: RunTarget, seed: int) -> Path:
    """Where a run is saved when ``--out`` is not given (the folder is made)."""
    RUNS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return RUNS_DIR / f"{stamp}-{target}-seed{seed}.json"


@click.group("scenario")
def cli() -> None:
    """The named scenarios: list them, run them."""


@cli.command("list")
def list_command() -> None:
    """Every scenario: its name, its fault family, what it does."""
    for scenario in SCENARIOS.values():
        click.echo(f"{scenario.name:24} {scenario.family:10} {scenario.summary}")


@cli.command("run", epilog=exit_statuses({
    "0": "every scenario passed", "1": "a scenario failed, or the lab could not run it",
    **USAGE_ERROR}))
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every scenario.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Fixes every workload, fault schedule and the proxy's randomness.")
@click.option("--target", type=click.Choice(TARGETS), default="netlab", show_default=True,
              help="netlab's servers, or the broken twins (tutorial-style servers).")
@click.option("--project", default=None,
              help="Use this running compose project instead of starting a lab.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the run (plans, histories, verdicts) as JSON here "
                   f"[default: {RUNS_DIR}/TIME-TARGET-seedN.json].")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JUnit XML here.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the HTML report here.")
def run_command(names: tuple[str, ...], run_all: bool, seed: int, target: RunTarget,
                project: str | None, out: Path | None, junit: Path | None,
                html: Path | None) -> None:
    """Run scenarios NAMES (or --all) and print their verdicts."""
    if run_all == bool(names):
        raise click.UsageError("name scenarios, or give --all (not both)")
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise click.UsageError(f"unknown scenario(s): {', '.join(unknown)} "
                               "(see `lab scenario list`)")
    chosen = list(SCENARIOS) if run_all else list(names)
    plans = [SCENARIOS[name].plan(seed) for name in chosen]
    out = out or default_out(target, seed)
    record = run(plans=plans, seed=seed, target=target, project=project,
                 out=out, junit=junit, html=html)
    sys.exit(0 if all(r.status == "pass" for r in record.results) else 1)


def run(*, plans: Sequence[Plan], seed: int, target: RunTarget, project: str | None = None,
        out: Path | None = None, junit: Path | None = None, html: Path | None = None,
        console: Console | None = None) -> RunRecord:
    """Run ``plans`` on a lab of ``target``; print the table, write the files; the record."""
    console = console or Console(stderr=True)
    opening = (LabSession.attach(project, target=target) if project is not None
               else LabSession.start(target=target))
    what = "netlab's servers" if target == "netlab" else "the broken twins"
    console.print(f"[bold]lab[/]: starting a lab of {what}" if project is None
                  else f"[bold]lab[/]: using the running project {project}")
    with opening as session:
        results = trio.run(_run_all, plans, session, console)
    record = RunRecord(seed=seed, target=target, results=tuple(results))
    Console().print(table(record))
    if out is not None:
        record.save(out)
        console.print(f"saved the run to {out} (replay it: lab replay {out})")
    if junit is not None:
        junit.write_text(junit_xml(record), encoding="utf-8")
    if html is not None:
        from lab.report import write_report  # jinja2 loads only when asked for
        write_report(record, html)
    return record


async def _run_all(plans: Sequence[Plan], session: LabSession,
                   console: Console) -> list[ScenarioResult]:
    # The kernel may lack netem (no tc delay or loss): say so once; the proxy stands in.
    _, netem = await netem_available(session.context)
    console.print(f"[dim]{netem}[/]")
    results: list[ScenarioResult] = []
    with Progress(console, [plan.scenario for plan in plans]) as progress:
        for plan in plans:
            progress.begin(plan.scenario)
            result = await run_plan(plan, session, on_op=progress.op)
            progress.end(result)
            results.append(result)
    return results
