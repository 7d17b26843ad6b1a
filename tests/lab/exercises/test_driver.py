"""The driver: every way a check ends is a result, never a pass by accident; replay lines."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner

from lab.errors import ProgramFailed
from lab.exercises import driver
from lab.exercises.context import CheckContext
from lab.exercises.driver import replay_line, run_checks, select
from lab.exercises.ex01_first_connection import EXERCISE as FIRST
from lab.exercises.model import Check, Exercise, Outcome

ROOT = Path(__file__).resolve().parents[3]
HINT = "the usual mistake"
Run = Callable[[CheckContext], Awaitable[Outcome]]


def exercise(*runs: tuple[str, Run], timeout: float = 5.0, client: bool = False) -> Exercise:
    checks = tuple(Check(name, "server", "a concept", HINT, run, timeout) for name, run in runs)
    if client:
        checks += (Check("a-client-check", "client", "c", "h", passes),)
    return Exercise(number=99, id="testing", title="t", checks=checks, expectations=(),
                    doc="docs/exercises/99-testing.md")


async def passes(ctx: CheckContext) -> Outcome:
    return Outcome(True, f"fine on port {ctx.port}")


async def hangs(ctx: CheckContext) -> Outcome:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


async def not_started(ctx: CheckContext) -> Outcome:
    raise ProgramFailed("never accepted on 8000 within 10s; stderr: boom")


async def crashes(ctx: CheckContext) -> Outcome:
    raise ValueError("a bug in the check")


async def crashes_in_a_nursery(ctx: CheckContext) -> Outcome:
    async def fail() -> None:
        raise ProgramFailed("exited with status 1 before listening on 8000")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fail)
    return Outcome(True, "unreachable")


async def inner_timeout(ctx: CheckContext) -> Outcome:
    with trio.fail_after(0.01):
        await trio.sleep_forever()
    return Outcome(True, "unreachable")


async def returns_nonsense(ctx: CheckContext) -> Outcome:
    return True  # type: ignore[return-value]


async def fails_verbosely(ctx: CheckContext) -> Outcome:
    return Outcome(False, "x" * 5000)


async def grade(ex: Exercise, **options: object) -> dict[str, tuple[str, str, str]]:
    results = await run_checks(ex, Path("learner.py"), "server", 3, local=True, **options)
    return {r.check: (r.verdict, r.detail, r.hint) for r in results}


async def test_a_passing_check_passes_with_its_evidence_and_no_hint() -> None:
    assert (await grade(exercise(("fine", passes))))["fine"][0::2] == ("pass", "")


async def test_a_check_over_its_time_fails_with_its_hint() -> None:
    got = await grade(exercise(("slow", hangs), timeout=0.2))
    assert got["slow"] == ("fail", "no answer within 0.2s", HINT)


@pytest.mark.parametrize(("run", "detail", "hint"), [
    (not_started, "never accepted on 8000 within 10s; stderr: boom", driver.NOT_STARTED),
    (crashes_in_a_nursery, "exited with status 1 before listening on 8000", driver.NOT_STARTED),
    (crashes, "the check stopped on ValueError: a bug in the check", HINT),
    (inner_timeout, "the program did not answer in time", HINT),
    (returns_nonsense, "the check returned True, not an Outcome", HINT),
])
async def test_every_other_ending_is_a_failure_that_says_why(run: Run, detail: str,
                                                              hint: str) -> None:
    verdict, got_detail, got_hint = (await grade(exercise(("it", run))))["it"]
    assert (verdict, got_detail) == ("fail", detail)
    assert hint in got_hint and HINT in got_hint


async def test_a_long_detail_is_cut_short() -> None:
    detail = (await grade(exercise(("long", fails_verbosely))))["long"][1]
    assert len(detail) == driver.DETAIL_LIMIT and detail.endswith("...")


async def test_only_runs_the_checks_named_in_order_and_reports_each_as_it_ends() -> None:
    seen: list[str] = []
    ex = exercise(("a", passes), ("b", hangs), ("c", passes), client=True)
    results = await run_checks(ex, Path("p.py"), "server", 3, ["c", "a"], local=True,
                               on_result=lambda r: seen.append(r.check))
    assert [r.check for r in results] == seen == ["a", "c"]


def test_select_refuses_a_check_of_another_role_or_none() -> None:
    ex = exercise(("a", passes), client=True)
    assert [c.name for c in select(ex, "server", None)] == ["a"]
    with pytest.raises(KeyError):
        select(ex, "server", ["a-client-check"])


async def test_scratch_directories_are_removed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(driver.tempfile, "tempdir", str(tmp_path))
    scratches: list[Path] = []

    async def remember(ctx: CheckContext) -> Outcome:
        scratches.append(ctx.scratch)
        (ctx.scratch / "left-behind").write_text("x")
        return Outcome(True, "")

    await grade(exercise(("a", remember), ("b", remember)))
    assert len(set(scratches)) == 2
    assert not any(scratch.exists() for scratch in scratches)


def test_a_replay_line_runs_one_check_again_alike() -> None:
    one_role = exercise(("a", passes))
    assert replay_line(one_role, "my server.py", "server", 5, "a") == \
        "lab check testing 'my server.py' --seed 5 --only a"
    assert replay_line(FIRST, "s.py", "server", 5, "serves-next-client", local=True) == \
        "lab check first-connection s.py --role server --seed 5 --only serves-next-client --local"


def test_the_driver_command_prints_one_json_line_per_check() -> None:
    program = ROOT / "exercises/01-first-connection/reference_client.py"
    result = CliRunner().invoke(driver.cli, [
        "first-connection", str(program), "--role", "client", "--seed", "4", "--local",
        "--only", "connects-and-prints", "--shown-path", "mine.py"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    record = json.loads(line)
    assert record["verdict"] == "pass" and record["seed"] == 4
    assert record["replay"].startswith("lab check first-connection mine.py --role client")


def test_the_driver_command_refuses_an_unknown_check() -> None:
    program = ROOT / "exercises/01-first-connection/reference_client.py"
    result = CliRunner().invoke(driver.cli, [
        "first-connection", str(program), "--role", "client", "--seed", "4", "--only", "nope"])
    assert result.exit_code == 2
    assert "no client check 'nope' in first-connection" in result.output


def test_an_image_without_the_exercise_says_it_is_older() -> None:
    program = ROOT / "exercises/01-first-connection/reference_client.py"
    result = CliRunner().invoke(driver.cli, [
        "no-such-exercise", str(program), "--role", "client", "--seed", "4"])
    assert result.exit_code == 2
    assert "this image is older" in result.output
