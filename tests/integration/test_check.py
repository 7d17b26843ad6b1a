"""lab check in its grading container: a pass, a failure with its replay line, the walls.

The container must have no network but loopback, run the learner's program
as nobody, and be gone afterwards; a program that does not even compile
fails with its error, not with a crash of the grader.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import trio

from lab.exercises.catalog import EXERCISES
from lab.exercises.ex01_first_connection import EXERCISE as FIRST
from lab.exercises.model import Exercise, Expectation
from lab.exercises.runner import Request, grade
from lab.labels import LABEL_PREFIX, SESSION_ID

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "exercises/01-first-connection"
LAB = str(Path(sys.executable).with_name("lab"))
TIMEOUT = 120

# A "client" that reports where it runs instead of echoing: the failed check's
# detail shows what it printed.
SPY_CLIENT = """\
import os, socket
print("interfaces", sorted(os.listdir("/sys/class/net")), "uid", os.getuid(), flush=True)
try:
    socket.create_connection(("192.0.2.1", 80), timeout=2)
    print("reached the outside")
except OSError as error:
    print("outside:", type(error).__name__)
"""


@pytest.fixture
def learner_dir(docker_lab: None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="lab-check-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def lab_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LAB, "check", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)


def check_containers() -> list[object]:
    client = docker.from_env()
    return list(client.containers.list(all=True, filters={"label": [
        f"{LABEL_PREFIX}.role=check", f"{LABEL_PREFIX}.session={SESSION_ID}"]}))


def test_a_correct_server_passes_in_its_container(docker_lab: None) -> None:
    result = lab_check("first-connection", "exercises/01-first-connection/reference_server.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 of 4 checks passed" in result.stdout
    assert "in a container with no network" in result.stderr


def test_a_failure_names_its_hint_and_the_command_that_runs_it_again(docker_lab: None) -> None:
    result = lab_check("1", "exercises/01-first-connection/tutorial_client.py", "--seed", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    replay = ("lab check first-connection exercises/01-first-connection/tutorial_client.py "
              "--role client --seed 3 --only sends-every-line")
    assert f"  again:   {replay}" in result.stdout.splitlines()
    assert "the client sent only its first line" in result.stdout
    again = lab_check(*replay.split()[2:])
    assert again.returncode == 1 and "0 of 1 checks passed" in again.stdout


def test_the_program_runs_as_nobody_with_loopback_only_and_the_container_goes(
    learner_dir: Path,
) -> None:
    spy = learner_dir / "spy_client.py"
    spy.write_text(SPY_CLIENT, encoding="utf-8")
    spy.chmod(0o600)  # readable by its owner only, as a learner's file may be
    request = Request(FIRST, spy, "client", 1, ("connects-and-prints",))
    (result,) = trio.run(lambda: grade(request))
    assert result.verdict == "fail"
    assert "interfaces ['lo'] uid 65534" in result.detail
    assert "outside: OSError" in result.detail  # ENETUNREACH: no route but loopback
    assert "reached the outside" not in result.detail
    assert check_containers() == []


def test_a_program_that_does_not_compile_fails_with_its_error(learner_dir: Path) -> None:
    broken = learner_dir / "broken_server.py"
    broken.write_text("import socket\ndef serve(:\n    pass\n", encoding="utf-8")
    result = lab_check("first-connection", str(broken), "--only", "accepts-and-echoes")
    assert result.returncode == 1, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "exited with status 1 before listening on 8000" in text
    assert "SyntaxError" in text
    assert "the program did not start or did not listen" in text


CASES = [(exercise, expectation) for exercise in EXERCISES
         for expectation in exercise.expectations]


@pytest.mark.parametrize(("exercise", "expectation"), CASES,
                         ids=[f"{x.number:02d}-{Path(e.program).stem}" for x, e in CASES])
def test_every_program_is_graded_in_the_container_as_it_is_here(
    docker_lab: None, exercise: Exercise, expectation: Expectation,
) -> None:
    """The container (root driver, programs as nobody, no network) changes no verdict."""
    request = Request(exercise, ROOT / expectation.program, expectation.role, 1313,
                      shown_path=expectation.program)
    results = trio.run(lambda: grade(request))
    report = "\n".join(f"{r.check}: {r.verdict}: {r.detail} / {r.hint}" for r in results)
    assert {r.check for r in results if not r.passed} == set(expectation.fails), report
