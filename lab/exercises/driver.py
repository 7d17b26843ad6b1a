"""Runs an exercise's checks against one program, each in a fresh process, and judges them.

:func:`run_checks` runs the checks of one role in turn (or only those
named), each under ``fail_after(check.timeout)`` with a fresh
:class:`~lab.exercises.context.CheckContext` and scratch directory. Every
way a check can end becomes a :class:`~lab.exercises.model.CheckResult`:
its :class:`~lab.exercises.model.Outcome`; ``no answer within Ns`` on
its timeout; the program's own failure to start or listen
(:class:`~lab.errors.ProgramFailed`); and a crash of the check itself,
named, as a failure (never a pass).

``lab check-driver`` (hidden) is what the grading container runs: the
same function, writing each result as a JSON line on stdout as soon as it
is known.

Resource handling: each check's scratch directory is removed after it;
the programs and servers a check starts are stopped by its context's
blocks.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import trio

from lab.errors import ProgramFailed, UnknownExercise
from lab.exercises.context import CheckContext, free_port
from lab.exercises.model import Check, CheckResult, Exercise, Outcome, Role
from lab.exercises.program import unprivileged_needed
from services.runtime.errors import leaves

DETAIL_LIMIT = 400
NOT_STARTED = "the program did not start or did not listen (run it by hand and read its error)"


def replay_line(exercise: Exercise, path: str, role: Role, seed: int, check: str,
                *, local: bool = False) -> str:
    """The command that runs one check again, alike."""
    words = ["lab", "check", exercise.id, path]
    if len(exercise.roles) > 1:
        words += ["--role", role]
    words += ["--seed", str(seed), "--only", check]
    if local:
        words.append("--local")
    return shlex.join(words)


def _short(text: str) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 3] + "..."


async def run_check(
    exercise: Exercise, check: Check, program: Path, *, seed: int, port: int,
    scratch: Path, unprivileged: bool | None = None,
) -> tuple[bool, str, str]:
    """One check: (passed, detail, hint); never raises for what the program or check did."""
    ctx = CheckContext(exercise=exercise.id, check=check.name, program_path=program,
                       seed=seed, port=port, scratch=scratch, unprivileged=unprivileged)
    outcome: object = None
    try:
        with trio.move_on_after(check.timeout) as scope:
            outcome = await check.run(ctx)
    except Exception as error:  # a check that crashes fails, naming why (never a pass)
        return _failure(check, error)
    if scope.cancelled_caught:
        return False, f"no answer within {check.timeout:g}s", check.hint
    if not isinstance(outcome, Outcome):
        return False, f"the check returned {outcome!r}, not an Outcome", check.hint
    return outcome.passed, outcome.detail, "" if outcome.passed else check.hint


def _failure(check: Check, error: Exception) -> tuple[bool, str, str]:
    """A check that raised: the program's fault (did not start, did not answer) or the check's."""
    found = list(leaves(error)) if isinstance(error, BaseExceptionGroup) else [error]
    for leaf in found:
        if isinstance(leaf, ProgramFailed):
            return False, str(leaf), f"{NOT_STARTED}; {check.hint}"
    for leaf in found:
        if isinstance(leaf, trio.TooSlowError):
            return False, "the program did not answer in time", check.hint
    first = found[0]
    return False, f"the check stopped on {type(first).__name__}: {first}", check.hint


def _scratch(check: str) -> Path:
    """A fresh directory for one check, which ``nobody`` may enter (its programs' homes)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"lab-check-{check}-"))
    scratch.chmod(0o755)
    return scratch


def select(exercise: Exercise, role: Role, only: Sequence[str] | None) -> tuple[Check, ...]:
    """The checks of ``role`` (those named in ``only``, if given); unknown names raise KeyError."""
    checks = exercise.checks_of(role)
    if not only:
        return checks
    names = {check.name for check in checks}
    for name in only:
        if name not in names:
            raise KeyError(name)
    return tuple(check for check in checks if check.name in only)


async def run_checks(
    exercise: Exercise,
    program_path: Path,
    role: Role,
    seed: int,
    only: Sequence[str] | None = None,
    *,
    local: bool,
    shown_path: str | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    unprivileged: bool | None = None,
) -> list[CheckResult]:
    """Run the checks of ``role`` against ``program_path``; one result per check, in order.

    ``local``: a free port per check (on a shared machine) instead of the
    exercise's port (in the grading container), and ``--local`` in the
    replay lines. ``shown_path`` is the program's path as the learner
    typed it (for the replay lines). ``on_result`` sees each result as soon
    as it is known.
    """
    shown = shown_path or str(program_path)
    unprivileged = unprivileged_needed() if unprivileged is None else unprivileged
    results = []
    for check in select(exercise, role, only):
        scratch = _scratch(check.name)
        try:
            port = free_port() if local else exercise.port
            passed, detail, hint = await run_check(
                exercise, check, program_path, seed=seed, port=port, scratch=scratch,
                unprivileged=unprivileged)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        result = CheckResult(
            exercise=exercise.id, check=check.name, role=role,
            verdict="pass" if passed else "fail", detail=_short(detail),
            concept=check.concept, hint=hint, seed=seed,
            replay=replay_line(exercise, shown, role, seed, check.name, local=local))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _print_json(result: CheckResult) -> None:
    sys.stdout.write(json.dumps(result.to_json()) + "\n")
    sys.stdout.flush()


@click.command("check-driver", hidden=True)
@click.argument("exercise_name", metavar="EXERCISE")
@click.argument("program", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--role", type=click.Choice(["client", "server"]), required=True)
@click.option("--seed", type=int, required=True)
@click.option("--only", multiple=True)
@click.option("--shown-path", default=None, help="The program's path on the learner's machine.")
@click.option("--local", is_flag=True, help="Free ports instead of the exercise's port.")
def cli(exercise_name: str, program: Path, role: Role, seed: int, only: tuple[str, ...],
        shown_path: str | None, local: bool) -> None:
    """Run the checks in this process and print each result as a JSON line (grading container)."""
    from lab.exercises.catalog import find

    try:
        exercise = find(exercise_name)
    except UnknownExercise as error:
        raise click.UsageError(
            f"{error}: this image is older than the netlab that asked for it; rebuild it "
            "(scripts/start-lab --rebuild)") from None
    try:
        select(exercise, role, only)
    except KeyError as error:
        raise click.UsageError(f"no {role} check {error.args[0]!r} in {exercise.id}") from None
    trio.run(lambda: run_checks(exercise, program, role, seed, only, local=local,
                                shown_path=shown_path, on_result=_print_json))
