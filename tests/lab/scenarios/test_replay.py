"""``lab replay`` compares verdicts scenario by scenario, invariant by invariant."""

from __future__ import annotations

from lab.history import History
from lab.invariants import Verdict, Violation
from lab.results import RunRecord, ScenarioResult
from lab.scenarios.replay import differences, verdicts


def result(name: str, *statuses: tuple[str, str], error: str | None = None) -> ScenarioResult:
    made = []
    for invariant, status in statuses:
        broken = Violation(invariant, "broken", 1.0, "p", "f", "c")
        violations = (broken,) if status == "fail" else ()
        made.append(Verdict(invariant, status, violations, 1))  # type: ignore[arg-type]
    return ScenarioResult(name=name, target="netlab", seed=1, plan=None, history=History(),
                          observations={}, verdicts=tuple(made), started=0.0, seconds=1.0,
                          error=error)


def record(*results: ScenarioResult) -> RunRecord:
    return RunRecord(seed=1, target="netlab", results=results)


def test_the_same_verdicts_make_no_difference() -> None:
    run = record(result("a", ("chat.order", "pass"), ("chat.delivery", "fail")))
    again = record(result("a", ("chat.order", "pass"), ("chat.delivery", "fail")))
    assert differences(run, again) == []


def test_a_changed_verdict_is_named() -> None:
    run = record(result("a", ("chat.order", "pass")), result("b", ("exec.intact", "pass")))
    again = record(result("a", ("chat.order", "pass")), result("b", ("exec.intact", "fail")))
    assert differences(run, again) == [("b", "exec.intact", "pass", "fail")]


def test_an_error_is_the_whole_scenarios_verdict() -> None:
    assert verdicts(result("a", ("chat.order", "pass"), error="boom")) == {"(run)": "error"}
    run = record(result("a", ("chat.order", "pass")))
    again = record(result("a", error="fleet exited 1"))
    assert ("a", "(run)", "absent", "error") in differences(run, again)
    assert ("a", "chat.order", "pass", "absent") in differences(run, again)


def test_a_scenario_missing_from_the_replay_differs() -> None:
    run = record(result("a", ("chat.order", "pass")))
    assert differences(run, record()) == [("a", "chat.order", "pass", "absent")]
