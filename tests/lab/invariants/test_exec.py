"""exec.at-most-once, exec.intact and exec.no-leftovers on small hand-written histories."""

from __future__ import annotations

from typing import Any

from lab.history import Op, OpType
from lab.invariants.exec import check_at_most_once, check_intact, check_no_leftovers, marker
from tests.lab.invariants.builders import H, fault

P = "obs.exec-0"
EXPECT = {"status": 0, "stdout_bytes": 1000, "stdout_sha256": "ab" * 32}


def run(op: str, start: float, end: float | None, outcome: OpType = "ok",
        **value: Any) -> list[Op]:
    """``invoke run`` then an ending op (``ok`` with the expected output unless overridden)."""
    ops = [Op(start, P, "invoke", "run", {"op": op, "command": f"... {marker(op)} ...",
                                          "expect": EXPECT})]
    if end is not None:
        body = {**EXPECT, "signal": None, "stderr_bytes": 0, "reason": None} \
            if outcome == "ok" else {}
        ops.append(Op(end, P, outcome, "run", {"op": op, **body, **value}))
    return ops


def test_marker_is_safe_in_a_file_name() -> None:
    assert marker("obs.exec-0/3") == "netlab-op-obs.exec-0_3"


# exec.at-most-once


def test_each_command_ran_once_passes() -> None:
    history = H(run("obs.exec-0/0", 1, 2), run("obs.exec-0/1", 3, 4))
    observations = {"exec": {"ran": {"netlab-op-obs.exec-0_0": 1, "obs.exec-0_1": 1}}}
    verdict = check_at_most_once(history, observations)
    assert (verdict.status, verdict.checked) == ("pass", 2)


def test_a_command_that_ran_twice_fails() -> None:
    history = H(run("obs.exec-0/0", 1, None), run("obs.exec-0/1", 3, 4))
    observations = {"exec": {"ran": {marker("obs.exec-0/0"): 2, marker("obs.exec-0/1"): 1}}}
    [violation] = check_at_most_once(history, observations).violations
    assert violation.message == "command obs.exec-0/0 ran 2 times"
    assert (violation.process, violation.time) == (P, 1)


def test_a_command_that_never_ran_after_an_unknown_outcome_passes() -> None:
    history = H(run("obs.exec-0/0", 1, 2, "info", error="reset"), run("obs.exec-0/1", 3, 4))
    observations = {"exec": {"ran": {marker("obs.exec-0/1"): 1}}}
    assert check_at_most_once(history, observations).status == "pass"


def test_at_most_once_is_unknown_without_run_marks() -> None:
    history = H(run("obs.exec-0/0", 1, 2))
    assert check_at_most_once(history, {}).status == "unknown"
    # A command that ended ok must have left its mark: else none are being recorded.
    blind = check_at_most_once(history, {"exec": {"ran": {}}})
    assert blind.status == "unknown" and "does not record runs" in blind.detail
    assert check_at_most_once(H(), {"exec": {"ran": {}}}).status == "unknown"


# exec.intact


def test_outcomes_as_expected_or_explicit_errors_pass() -> None:
    history = H(run("obs.exec-0/0", 1, 2), run("obs.exec-0/1", 3, 4, "fail", code="busy"))
    verdict = check_intact(history, {})
    assert (verdict.status, verdict.checked) == ("pass", 2)


def test_wrong_output_or_status_fails_naming_each_difference() -> None:
    history = H(run("obs.exec-0/0", 1, 2, stdout_bytes=65536, status=0))
    [violation] = check_intact(history, {}).violations
    assert violation.message == "command obs.exec-0/0 ended with stdout_bytes 65536 (expected 1000)"


def test_an_unknown_outcome_is_allowed_only_under_a_fault() -> None:
    under = H(fault(1.5, 1.8), run("obs.exec-0/0", 1, 3, "info", error="reset"),
              run("obs.exec-0/1", 4, 5))
    verdict = check_intact(under, {})
    assert verdict.status == "pass" and "1 outcome(s) unknown under a fault" in verdict.detail
    alone = H(run("obs.exec-0/0", 1, 3, "info", error="timeout"))
    [violation] = check_intact(alone, {}).violations
    assert "ended unknown (timeout) with no fault active" in violation.message


def test_only_unknown_outcomes_under_a_fault_is_unknown() -> None:
    history = H(fault(1.5, 1.8), run("obs.exec-0/0", 1, 3, "info", error="reset"))
    assert check_intact(history, {}).status == "unknown"


def test_a_command_that_never_ended_fails() -> None:
    history = H(fault(0, 9), run("obs.exec-0/0", 1, None))
    [violation] = check_intact(history, {}).violations
    assert "never ended" in violation.message


def test_an_ok_run_with_nothing_expected_is_unknown() -> None:
    history = H((1, P, "invoke", "run", {"op": "obs.exec-0/0", "command": "true"}),
                (2, P, "ok", "run", {"op": "obs.exec-0/0", "status": 0}))
    assert check_intact(history, {}).status == "unknown"


# exec.no-leftovers


def test_no_leftovers_passes_on_an_empty_list() -> None:
    verdict = check_no_leftovers(H(run("obs.exec-0/0", 1, 2)), {"exec": {"leftovers": []}})
    assert (verdict.status, verdict.checked) == ("pass", 1)


def test_a_leftover_is_blamed_on_the_command_it_carries() -> None:
    history = H(run("obs.exec-0/1", 1, 2), (3, "obs.exec-1", "invoke", "run",
                                             {"op": "obs.exec-1/10", "expect": EXPECT}))
    leftovers = [f"sh -c touch /tmp/netlab-ran.{marker('obs.exec-1/10')}.$$; sleep 600"]
    [violation] = check_no_leftovers(history, {"exec": {"leftovers": leftovers}}).violations
    assert violation.process == "obs.exec-1"
    assert violation.time == 3  # the end of the history
    assert "sleep 600" in violation.message


def test_no_leftovers_is_unknown_without_the_list_or_without_commands() -> None:
    assert check_no_leftovers(H(run("obs.exec-0/0", 1, 2)), {}).status == "unknown"
    assert check_no_leftovers(H(), {"exec": {"leftovers": []}}).status == "unknown"


def test_a_command_of_a_killed_client_is_not_checked() -> None:
    killed = H(run("obs.exec-0/0", 1, 2), run("obs.exec-0/1", 3, None),
               fault(3.5, 3.6, "kill-client(fleet=obs)", "container"))
    verdict = check_intact(killed, {})
    assert verdict.status == "pass" and "1 command(s) of clients killed" in verdict.detail
    # Still writing after the fault: not killed (a paused client thaws and must report).
    thawed = H(run("obs.exec-0/0", 1, None), run("obs.exec-0/1", 5, 6),
               fault(3.5, 4, "pause(fleet=obs)", "container"))
    assert check_intact(thawed, {}).status == "fail"
    elsewhere = H(run("obs.exec-0/0", 1, None), fault(3.5, 4, "kill-client(fleet=other)",
                                                        "container"))
    assert check_intact(elsewhere, {}).status == "fail"
