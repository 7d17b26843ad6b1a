"""The catalog of exercises: ids, numbers, docs, programs and expectations agree."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lab.errors import UnknownExercise
from lab.exercises import catalog
from lab.exercises.catalog import EXERCISES, MODULES, find, folder

ROOT = Path(__file__).resolve().parents[3]
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
IDS = [exercise.id for exercise in EXERCISES]


def test_the_catalog_has_exercises_in_order_with_unique_ids() -> None:
    assert EXERCISES, "no exercise module could be imported"
    numbers = [exercise.number for exercise in EXERCISES]
    assert numbers == sorted(set(numbers))
    assert len(set(IDS)) == len(IDS)
    assert list(MODULES) == sorted(MODULES)


def test_each_module_listed_is_named_after_its_exercise() -> None:
    for exercise in EXERCISES:
        name = f"ex{exercise.number:02d}_{exercise.id.replace('-', '_')}"
        assert name in MODULES


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_an_exercise_is_documented_and_has_its_folder(exercise: catalog.Exercise) -> None:
    assert KEBAB.fullmatch(exercise.id)
    assert exercise.doc == f"docs/exercises/{folder(exercise)}.md"
    assert (ROOT / exercise.doc).is_file()
    assert (ROOT / "exercises" / folder(exercise)).is_dir()


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_checks_are_named_explained_and_bounded(exercise: catalog.Exercise) -> None:
    names = [check.name for check in exercise.checks]
    assert len(set(names)) == len(names)
    for check in exercise.checks:
        assert KEBAB.fullmatch(check.name), check.name
        assert check.concept.strip() and check.hint.strip(), check.name
        assert 0 < check.timeout <= 60, check.name
    assert exercise.roles


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_expectations_name_programs_and_checks_that_exist(exercise: catalog.Exercise) -> None:
    for expectation in exercise.expectations:
        program = ROOT / expectation.program
        assert program.is_file(), expectation.program
        assert expectation.program.startswith(f"exercises/{folder(exercise)}/")
        assert expectation.role in exercise.roles
        role_checks = {check.name: check for check in exercise.checks_of(expectation.role)}
        for name, substring in expectation.fails.items():
            assert name in role_checks, f"{expectation.program}: no {expectation.role} check {name}"
            assert substring in role_checks[name].hint, f"{name}: {substring!r} not in its hint"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_graded_role_has_a_reference_and_a_failing_tutorial_program(
    exercise: catalog.Exercise,
) -> None:
    for role in exercise.roles:
        programs = {Path(e.program).name: e for e in exercise.expectations if e.role == role}
        assert f"reference_{role}.py" in programs, f"{exercise.id}: no reference {role}"
        assert programs[f"reference_{role}.py"].fails == {}
        tutorial = programs.get(f"tutorial_{role}.py")
        assert tutorial is not None, f"{exercise.id}: no tutorial {role}"
        assert tutorial.fails, f"{exercise.id}: the tutorial {role} must fail a check"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_exercise_programs_use_the_standard_library_only(exercise: catalog.Exercise) -> None:
    import sys

    for program in (ROOT / "exercises" / folder(exercise)).glob("*.py"):
        tree = ast.parse(program.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names, f"{program.name} imports {name}"


@pytest.mark.parametrize("name", ["first-connection", "1", "01", "01-first-connection", 1,
                                  " First-Connection "])
def test_find_takes_an_id_a_number_or_a_folder_name(name: str | int) -> None:
    assert find(name).id == "first-connection"


def test_find_names_the_exercises_when_it_knows_none_by_that_name() -> None:
    with pytest.raises(UnknownExercise, match="first-connection"):
        find("no-such-exercise")


def test_the_readme_lists_every_module_of_the_grader() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- layout-lab-exercises:begin -->(.*?)<!-- layout-lab-exercises:end -->",
                      text, re.DOTALL)
    assert match is not None
    listed = re.findall(r"^\| `exercises/([\w.]+)` \|", match.group(1), re.MULTILINE)
    assert len(listed) == len(set(listed))
    present = {path.name for path in (ROOT / "lab" / "exercises").glob("*.py")} - {"__init__.py"}
    exercise_modules = {name for name in present if re.fullmatch(r"ex\d\d_\w+\.py", name)}
    assert set(listed) == (present - exercise_modules) | {"exNN_ID.py"}
