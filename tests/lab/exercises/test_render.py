"""What lab check prints: the table, each failure's concept, hint and replay line, the status."""

from __future__ import annotations

import io

from rich.console import Console

from lab.exercises.ex01_first_connection import EXERCISE
from lab.exercises.model import CheckResult
from lab.exercises.render import exit_status, progress_line, show

REPLAY = ("lab check first-connection a/very/long/path/to/my_echo_server.py --role server "
          "--seed 1 --only serves-next-client")


def result(check: str, passed: bool) -> CheckResult:
    return CheckResult(exercise="first-connection", check=check, role="server",
                       verdict="pass" if passed else "fail", detail=f"evidence of {check}",
                       concept=f"concept of {check}", hint="" if passed else f"hint for {check}",
                       seed=1, replay=REPLAY)


def render(results: list[CheckResult]) -> str:
    out = io.StringIO()
    show(Console(file=out, width=60, color_system=None), EXERCISE, results)
    return out.getvalue()


def test_a_pass_shows_its_evidence_and_nothing_to_do() -> None:
    text = render([result("accepts-and-echoes", True)])
    assert "accepts-and-echoes" in text and "pass" in text
    assert "hint" not in text and "again" not in text
    assert "1 of 1 checks passed" in text


def test_a_failure_shows_concept_hint_and_the_whole_replay_line() -> None:
    text = render([result("accepts-and-echoes", True), result("serves-next-client", False)])
    assert "FAIL" in text
    assert "concept: concept of serves-next-client" in text
    assert "hint:    hint for serves-next-client" in text
    assert f"  again:   {REPLAY}" in text.splitlines()  # one line to copy, even when narrow
    assert "1 of 2 checks passed; the concepts are explained in " \
        "docs/exercises/01-first-connection.md" in text


def test_the_exit_status_is_zero_only_when_every_check_passed() -> None:
    assert exit_status([result("a", True), result("b", True)]) == 0
    assert exit_status([result("a", True), result("b", False)]) == 1
    assert exit_status([]) == 1


def test_a_progress_line_says_the_verdict_first() -> None:
    assert progress_line(result("a", True)).plain == "pass  a"
    assert progress_line(result("b", False)).plain == "FAIL  b"


def test_evidence_in_square_brackets_is_shown_as_it_is_not_taken_for_markup() -> None:
    evidence = CheckResult(exercise="chat", check="hears-every-message", role="client",
                           verdict="pass", detail="printed '[#lobby] <guest-2> hello room'",
                           concept="", hint="", seed=1, replay=REPLAY)
    assert "[#lobby]" in render([evidence])
