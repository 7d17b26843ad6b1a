"""``lab check EXERCISE PROGRAM`` grades a program; ``lab exercises`` lists the exercises.

The role graded is ``--role``, else the exercise's only role, else the
program's file name (``*client*`` or ``*server*``). By default the checks
run in a sealed container of the netlab image (:mod:`lab.exercises.runner`);
``--local`` runs them in this process (no Docker, no isolation).
Exit status: 0 when every check passed, 1 when one failed, 2 for a usage
error, 3 when the program could not be graded (no Docker, no image, a
grading container that failed).

The click command only parses; :func:`run` does the work (keyword-only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import trio
from rich.console import Console

from lab.errors import CaptureError, EnvironmentProblem, GradingError, UnknownExercise
from lab.exercises.catalog import EXERCISES, find
from lab.exercises.model import CheckResult, Exercise, Role
from lab.exercises.render import exit_status, progress_line, show
from lab.exercises.runner import Request, grade
from services.runtime.options import USAGE_ERROR, exit_statuses

DEFAULT_SEED = 1
CANNOT_GRADE = 3


def infer_role(exercise: Exercise, program: Path, role: Role | None) -> Role:
    """The role to grade; raises ``click.UsageError`` when it cannot be told."""
    if role is not None:
        if role not in exercise.roles:
            raise click.UsageError(f"{exercise.id} grades no {role} (it grades: "
                                   f"{', '.join(exercise.roles)})")
        return role
    if len(exercise.roles) == 1:
        return exercise.roles[0]
    name = program.name.lower()
    named = [candidate for candidate in exercise.roles if candidate in name]
    if len(named) == 1:
        return named[0]
    raise click.UsageError(f"{exercise.id} grades a client and a server: say which with "
                           "--role client or --role server")


def listing() -> str:
    """The exercises, one a line: number, id, roles, doc."""
    rows = [f"{e.number:>2}  {e.id:18} {'+'.join(e.roles):14} {e.doc}" for e in EXERCISES]
    return "\n".join(rows)


def run(
    *,
    exercise_name: str,
    program: Path,
    role: Role | None,
    seed: int,
    only: tuple[str, ...],
    local: bool,
    json_out: Path | None,
    console: Console | None = None,
    capture: Path | None = None,
) -> int:
    """Grade ``program``; print the results; return the exit status."""
    console = console or Console()
    progress = Console(stderr=True)
    try:
        exercise = find(exercise_name)
    except UnknownExercise as error:
        raise click.UsageError(str(error)) from None
    chosen = infer_role(exercise, program, role)
    names = {check.name for check in exercise.checks_of(chosen)}
    unknown = [name for name in only if name not in names]
    if unknown:
        raise click.UsageError(f"no {chosen} check {', '.join(unknown)} in {exercise.id} "
                               f"(its {chosen} checks: {', '.join(sorted(names))})")
    if capture is not None and local:
        raise click.UsageError("--capture records the grading container: not with --local")
    request = Request(exercise, program, chosen, seed, only, shown_path=str(program),
                      capture=capture)
    where = "here (--local)" if local else "in a container with no network"
    progress.print(f"grading {program} as the {chosen} of exercise {exercise.number} "
                   f"{exercise.id}, seed {seed}, {where}")

    def on_result(result: CheckResult) -> None:
        progress.print(progress_line(result))

    try:
        results = trio.run(lambda: grade(request, local=local, on_result=on_result))
    except (EnvironmentProblem, GradingError, CaptureError) as error:
        progress.print(f"lab check: cannot grade: {error}", style="bold red", markup=False)
        return CANNOT_GRADE
    show(console, exercise, results)
    if capture is not None:
        progress.print(f"wrote {capture}: every segment of the checks on the loopback; "
                       f"lab capture --read {capture} summarises it")
    if json_out is not None:
        json_out.write_text(json.dumps({
            "exercise": exercise.id, "program": str(program), "role": chosen, "seed": seed,
            "results": [result.to_json() for result in results],
        }, indent=2) + "\n", encoding="utf-8")
    return exit_status(results)


@click.command("check", epilog=exit_statuses({
    "0": "every check passed", "1": "a check failed",
    str(CANNOT_GRADE): "the grading could not run (no Docker, no image...: the message says why)",
    **USAGE_ERROR}))
@click.argument("exercise_name", metavar="EXERCISE", required=False)
@click.argument("program", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--role", type=click.Choice(["client", "server"]), default=None,
              help="The role graded (default: the exercise's only role, or the file's name).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Seeds every random choice of the checks: a run replays alike.")
@click.option("--only", multiple=True, metavar="CHECK", help="Run only this check (repeatable).")
@click.option("--local", is_flag=True,
              help="Run the checks here, without Docker (and without isolation).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results as JSON to this file.")
@click.option("--capture", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Record the checks' TCP traffic to this pcap file (not with --local).")
@click.option("--list", "list_only", is_flag=True, help="List the exercises and exit.")
def cli(exercise_name: str | None, program: Path | None, role: Role | None, seed: int,
        only: tuple[str, ...], local: bool, json_out: Path | None, capture: Path | None,
        list_only: bool) -> None:
    """Grade your PROGRAM (a client or server of EXERCISE: its id or number).

    PROGRAM runs as `python3 PROGRAM HOST PORT`, a fresh process for each
    check: a server listens on HOST PORT, a client connects there and reads
    what to send from its stdin.
    """
    if list_only:
        click.echo(listing())
        return
    if exercise_name is None or program is None:
        raise click.UsageError("give an EXERCISE and your PROGRAM (lab check --list lists them)")
    sys.exit(run(exercise_name=exercise_name, program=program, role=role, seed=seed,
                 only=only, local=local, json_out=json_out, capture=capture))


@click.command("exercises")
def exercises_cli() -> None:
    """The exercises: number, id, roles graded, the page that explains it."""
    click.echo(listing())
