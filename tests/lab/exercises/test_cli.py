"""lab check: what the command line becomes (run patched), role inference, run's outcomes."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from lab.cli import main
from lab.errors import EnvironmentProblem
from lab.exercises import cli
from lab.exercises.cli import infer_role, run
from lab.exercises.ex01_first_connection import EXERCISE as FIRST
from lab.exercises.model import CheckResult, Exercise
from lab.exercises.runner import Request

ROOT = Path(__file__).resolve().parents[3]
SERVER = "exercises/01-first-connection/reference_server.py"


def invoke(*args: str) -> tuple[Any, mock.MagicMock]:
    with mock.patch.object(cli, "run", return_value=0) as run_mock:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result, run_mock


def test_the_command_line_becomes_one_call_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result, run_mock = invoke("check", "1", SERVER, "--seed", "9", "--only", "a", "--only",
                              "b", "--local", "--json", "out.json", "--role", "server")
    assert result.exit_code == 0, result.output
    run_mock.assert_called_once_with(
        exercise_name="1", program=Path(SERVER), role="server", seed=9, only=("a", "b"),
        local=True, json_out=Path("out.json"), capture=None)


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result, run_mock = invoke("check", "first-connection", SERVER)
    assert result.exit_code == 0
    assert run_mock.call_args.kwargs == {
        "exercise_name": "first-connection", "program": Path(SERVER), "role": None,
        "seed": cli.DEFAULT_SEED, "only": (), "local": False, "json_out": None,
        "capture": None}


def test_capture_names_a_file_and_is_not_for_local_grading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result, run_mock = invoke("check", "1", SERVER, "--capture", "checks.pcap")
    assert result.exit_code == 0, result.output
    assert run_mock.call_args.kwargs["capture"] == Path("checks.pcap")
    result = CliRunner().invoke(main, ["check", "1", SERVER, "--local", "--capture", "x.pcap"])
    assert result.exit_code == 2 and "not with --local" in result.output


def test_runs_exit_status_is_the_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    with mock.patch.object(cli, "run", return_value=1):
        result = CliRunner().invoke(main, ["check", "1", SERVER])
    assert result.exit_code == 1


@pytest.mark.parametrize("args", [["check"], ["check", "1"], ["check", "1", "no-such-file.py"]])
def test_a_missing_exercise_or_program_is_a_usage_error(args: list[str]) -> None:
    result, run_mock = invoke(*args)
    assert result.exit_code == 2
    run_mock.assert_not_called()


@pytest.mark.parametrize("command", [["check", "--list"], ["exercises"]])
def test_the_exercises_are_listed(command: list[str]) -> None:
    result, _ = invoke(*command)
    assert result.exit_code == 0
    assert "first-connection" in result.output
    assert "client+server" in result.output and FIRST.doc in result.output


def test_the_driver_command_is_hidden() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert " check " in result.output and "check-driver" not in result.output


@pytest.mark.parametrize(("name", "role", "expected"), [
    ("my_server.py", None, "server"),
    ("echo-client.py", None, "client"),
    ("anything.py", "client", "client"),
    ("my_server.py", "client", "client"),
])
def test_the_role_comes_from_the_option_or_the_file_name(name: str, role: Any,
                                                        expected: str) -> None:
    assert infer_role(FIRST, Path(name), role) == expected


def test_a_role_that_cannot_be_told_is_a_usage_error() -> None:
    with pytest.raises(click.UsageError, match="--role client or --role server"):
        infer_role(FIRST, Path("echo.py"), None)
    with pytest.raises(click.UsageError, match="--role client or --role server"):
        infer_role(FIRST, Path("client_server.py"), None)
    server_only = Exercise(number=9, id="x", title="x", checks=FIRST.checks_of("server"),
                           expectations=(), doc="d")
    assert infer_role(server_only, Path("echo.py"), None) == "server"
    with pytest.raises(click.UsageError, match="x grades no client"):
        infer_role(server_only, Path("echo.py"), "client")


def fake_result(check: str, passed: bool) -> CheckResult:
    return CheckResult(exercise=FIRST.id, check=check, role="server",
                       verdict="pass" if passed else "fail", detail="d", concept="c",
                       hint="" if passed else "h", seed=2, replay="lab check ...")


def run_with(grade_result: Any, tmp_path: Path, **overrides: Any) -> tuple[int, str, Any]:
    calls: list[tuple[Request, bool]] = []

    async def fake_grade(request: Request, *, local: bool, on_result: Any) -> Any:
        calls.append((request, local))
        if isinstance(grade_result, Exception):
            raise grade_result
        for result in grade_result:
            on_result(result)
        return grade_result

    out = io.StringIO()
    options: dict[str, Any] = {
        "exercise_name": "1", "program": Path("my_server.py"), "role": None, "seed": 2,
        "only": (), "local": True, "json_out": tmp_path / "out.json",
        "console": Console(file=out, width=100, color_system=None)}
    options.update(overrides)
    with mock.patch.object(cli, "grade", fake_grade):
        status = run(**options)
    return status, out.getvalue(), calls


def test_run_grades_shows_and_saves(tmp_path: Path) -> None:
    results = [fake_result("accepts-and-echoes", True), fake_result("serves-next-client", False)]
    status, shown, calls = run_with(results, tmp_path)
    assert status == 1
    ((request, local),) = calls
    assert (request.role, request.seed, request.shown_path, local) == ("server", 2,
                                                                       "my_server.py", True)
    assert "serves-next-client" in shown and "1 of 2 checks passed" in shown
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["role"] == "server" and [r["verdict"] for r in saved["results"]] == [
        "pass", "fail"]


def test_run_reports_what_kept_it_from_grading(tmp_path: Path) -> None:
    status, shown, _ = run_with(EnvironmentProblem("image netlab:latest is missing"), tmp_path)
    assert status == cli.CANNOT_GRADE
    assert shown == "" and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"exercise_name": "nope"}, "no exercise 'nope'"),
    ({"only": ("sends-every-line",)}, "no server check sends-every-line"),
])
def test_run_refuses_unknown_names(tmp_path: Path, overrides: dict[str, Any],
                                   message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        run_with([], tmp_path, **overrides)
