"""Where the checks run: the grading container's settings, and results read from its output."""

from __future__ import annotations

import json
from pathlib import Path

from lab.exercises.context import EXERCISES_ENV
from lab.exercises.ex01_first_connection import EXERCISE as FIRST
from lab.exercises.model import CheckResult
from lab.exercises.runner import Request, _parse, container_options, driver_command
from lab.labels import LABEL_PREFIX

ROOT = Path(__file__).resolve().parents[3]
PROGRAM = ROOT / "exercises/01-first-connection/tutorial_server.py"


def request(*only: str) -> Request:
    return Request(FIRST, PROGRAM, "server", 5, only, shown_path="tutorial_server.py")


def test_the_container_is_sealed_and_labelled() -> None:
    options = container_options(request(), image="netlab:latest", run_id="abc")
    assert options["network_mode"] == "none"
    assert options["cap_drop"] == ["ALL"]
    assert set(options["cap_add"]) == {"SETUID", "SETGID", "CHOWN", "DAC_READ_SEARCH", "KILL"}
    assert options["read_only"] is True and "/tmp" in options["tmpfs"]
    assert options["mem_limit"] and options["pids_limit"]
    assert options["user"] == "0:0"
    assert options["labels"][f"{LABEL_PREFIX}.run"] == "abc"
    assert options["labels"][f"{LABEL_PREFIX}.role"] == "check"
    assert options["volumes"][str(PROGRAM)] == {"bind": "/learner/tutorial_server.py",
                                                "mode": "ro"}
    assert options["volumes"][str(ROOT / "exercises")]["mode"] == "ro"
    assert options["environment"] == {EXERCISES_ENV: "/exercises"}


def test_the_driver_is_told_everything_it_needs() -> None:
    command = driver_command(request("serves-next-client"), "/learner/t.py")
    assert command == ["lab", "check-driver", "first-connection", "/learner/t.py",
                       "--role", "server", "--seed", "5", "--shown-path", "tutorial_server.py",
                       "--only", "serves-next-client"]


def test_the_time_limit_covers_the_checks_chosen() -> None:
    everything, one = request(), request("serves-next-client")
    assert everything.checks() == len(FIRST.checks_of("server")) and one.checks() == 1
    assert everything.time_limit() > one.time_limit() > 0


def test_result_lines_are_told_from_other_output() -> None:
    result = CheckResult(exercise="first-connection", check="a", role="server",
                         verdict="fail", detail="d", concept="c", hint="h", seed=1,
                         replay="lab check ...")
    assert _parse(json.dumps(result.to_json())) == result
    assert _parse("Traceback (most recent call last):") is None
    assert _parse('{"not": "a result"}') is None
    assert _parse(json.dumps({**result.to_json(), "verdict": "maybe"})) is None
