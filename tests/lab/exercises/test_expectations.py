"""Every program kept in exercises/ is graded as its Expectation says (``--local`` path).

The reference program of a role passes every check of that role; a
tutorial-style program fails exactly the checks its Expectation names, each
with a hint containing the expected words. In-process tier: the driver runs
here, the programs as subprocesses on free loopback ports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.exercises.catalog import EXERCISES
from lab.exercises.driver import run_checks
from lab.exercises.model import Exercise, Expectation

ROOT = Path(__file__).resolve().parents[3]
CASES = [(exercise, expectation) for exercise in EXERCISES
         for expectation in exercise.expectations]
IDS = [f"{exercise.number:02d}-{Path(e.program).stem}" for exercise, e in CASES]
SEED = 1313


@pytest.mark.parametrize(("exercise", "expectation"), CASES, ids=IDS)
async def test_a_program_is_graded_as_expected(
    exercise: Exercise, expectation: Expectation,
) -> None:
    results = await run_checks(exercise, ROOT / expectation.program, expectation.role, SEED,
                               local=True, shown_path=expectation.program)
    assert [r.check for r in results] == [c.name for c in exercise.checks_of(expectation.role)]
    failed = {r.check: r for r in results if not r.passed}
    report = "\n".join(f"{r.check}: {r.verdict}: {r.detail} / hint: {r.hint}" for r in results)
    assert set(failed) == set(expectation.fails), report
    for name, substring in expectation.fails.items():
        assert substring in failed[name].hint, report
    for result in results:
        assert result.seed == SEED
        assert f"--only {result.check}" in result.replay and "--local" in result.replay
