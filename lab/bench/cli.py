"""``lab bench [upload|exec|chat|scale|all]`` on the host, ``lab bench-load SECTION`` in containers.

``lab bench`` starts a netlab lab (or uses ``--project``), runs each section
with a progress display (the baselines and loads run in containers of the lab
network), prints the table (every figure, its baselines, the ratios, the
goal) and writes the run as JSON (``--json``). ``--profile DIR`` records
netlab's server under each of its loads with py-spy (:mod:`lab.bench.pyspy`)
and, after each section, prints and writes where the server's time went
(:mod:`lab.bench.profiles`). A section that cannot measure
is reported as an error, the others still run; the exit status is 1 then.
No figure is judged here: goals are printed, never asserted.

The click command only parses; :func:`run` does the work (keyword-only).
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
import trio
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lab.bench.context import BenchContext
from lab.bench.figures import BenchRecord, Figure, markdown, table
from lab.bench.profiles import rich_table
from lab.bench.pyspy import INSTALL_HINT, Recorder, find_pyspy
from lab.bench.sampler import LoadSampler, machine
from lab.cli import LazyGroup
from lab.errors import LabError
from lab.scenarios.session import LabSession
from services.runtime.options import USAGE_ERROR, exit_statuses

SECTIONS = {
    "upload": "lab.bench.upload",
    "exec": "lab.bench.exec",
    "chat": "lab.bench.chat",
    "scale": "lab.bench.scale",
}
Section = Callable[[BenchContext], Awaitable[list[Figure]]]


def section_runner(name: str) -> Section:
    runner: Section = importlib.import_module(SECTIONS[name]).run
    return runner


@click.command("bench", epilog=exit_statuses({
    "0": "every figure was measured", "1": "a figure could not be measured (its error is shown)",
    **USAGE_ERROR}))
@click.argument("sections", nargs=-1, type=click.Choice([*SECTIONS, "all"]))
@click.option("--quick", is_flag=True,
              help="Small loads: proves the bench works, in about a minute a section.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every figure, baseline and ratio, the machine and its load here.")
@click.option("--markdown", "markdown_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the figures as a Markdown table here.")
@click.option("--project", default=None, help="Use this running compose project.")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Record netlab's server under each load with py-spy; write "
              "DIR/SECTION-FIGURE.txt (collapsed stacks) and DIR/SECTION-summary.md.")
def cli(sections: tuple[str, ...], quick: bool, json_file: Path | None,
        markdown_file: Path | None, project: str | None, profile_dir: Path | None) -> None:
    """Measure netlab's servers against baselines started in the same run."""
    chosen = list(SECTIONS) if not sections or "all" in sections else list(dict.fromkeys(sections))
    profiler = None
    if profile_dir is not None:
        executable = find_pyspy()
        if executable is None:
            raise click.UsageError(f"--profile needs py-spy, which is not installed: "
                                   f"{INSTALL_HINT}")
        profiler = Recorder(profile_dir, executable=executable)
    record = run(sections=chosen, quick=quick, json_file=json_file, project=project,
                 profiler=profiler)
    if markdown_file is not None:
        markdown_file.write_text(markdown(record), encoding="utf-8")
    sys.exit(1 if record.errors else 0)


def run(*, sections: list[str], quick: bool = False, json_file: Path | None = None,
        project: str | None = None, console: Console | None = None,
        profiler: Recorder | None = None) -> BenchRecord:
    """Run ``sections`` on a lab; print the table, write the JSON; the record.

    ``profiler``: record netlab's servers under load; each section's profiles
    are printed and written when it ends.
    """
    console = console or Console(stderr=True)
    opening = LabSession.attach(project) if project else LabSession.start()
    console.print("[bold]lab bench[/]: " + (f"using {project}" if project
                                            else "starting a lab of netlab's servers"))
    with opening as session:
        record = trio.run(_run_sections, BenchContext(session, quick, profiler), sections, console)
    Console().print(table(record))
    if json_file is not None:
        record.save(json_file)
        console.print(f"saved the figures to {json_file}")
    return record


async def _run_sections(ctx: BenchContext, sections: list[str], console: Console) -> BenchRecord:
    started, clock = time.time(), trio.current_time()
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    sampler = LoadSampler()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    async with trio.open_nursery() as nursery:
        await nursery.start(sampler.run)
        with Progress(*columns, console=console, transient=True) as progress:
            for name in sections:
                task = progress.add_task(f"{name}{' (quick)' if ctx.quick else ''}")
                try:
                    found = await section_runner(name)(ctx)
                except (LabError, OSError) as exc:
                    errors[name] = f"{type(exc).__name__}: {exc}"
                    console.print(f"[red]{name}: {errors[name][-500:]}[/]")
                else:
                    figures.extend(found)
                    console.print(f"{name}: {len(found)} figures")
                if ctx.profiler is not None:
                    show_profiles(ctx.profiler, name, console)
                progress.remove_task(task)
        nursery.cancel_scope.cancel()
    return BenchRecord(figures=tuple(figures), machine=machine(), host_load=tuple(sampler.samples),
                       started=started, seconds=round(trio.current_time() - clock, 1),
                       quick=ctx.quick, sections=tuple(sections), errors=errors)


def show_profiles(profiler: Recorder, section: str, console: Console) -> None:
    """Print the section's profiles and write them (also those of a section cut short)."""
    for figure, profile in profiler.profiles.get(section, {}).items():
        console.print(rich_table(f"{section}-{figure}", profile))
    written = profiler.write(section)
    console.print(f"{section}: profiles in {written[-1]}")


@click.group("bench-load", cls=LazyGroup,
             lazy={name: f"{module}_load" for name, module in SECTIONS.items()})
def load_cli() -> None:
    """Load programs of lab bench (run inside client containers; each prints one JSON object)."""
