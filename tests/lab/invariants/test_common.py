"""all.serves-new-clients and all.counters-baseline: probes before and after the run."""

from __future__ import annotations

from typing import Any

from lab.invariants.common import check_counters_baseline, check_serves_new_clients
from tests.lab.invariants.builders import H

USED = H((1, "obs.chat-0", "invoke", "connect"), (2, "obs.upload-0", "invoke", "connect"))


def stats(open_: int = 0, tasks: int = 0) -> dict[str, Any]:
    return {"connections_total": 9, "connections_open": open_, "tasks_open": tasks}


def probes(after: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {"chat": stats(), "upload": stats()}
    return {"probe_before": {"stats": before or base}, "probe_after": after}


SERVED = {"chat": {"ok": True, "error": None}, "upload": {"ok": True, "error": None}}


def test_every_used_service_serving_passes() -> None:
    verdict = check_serves_new_clients(USED, probes({"serves": SERVED}))
    assert (verdict.status, verdict.checked) == ("pass", 2)


def test_a_service_that_no_longer_serves_fails() -> None:
    serves = {**SERVED, "upload": {"ok": False, "error": "timed out"}}
    [violation] = check_serves_new_clients(USED, probes({"serves": serves})).violations
    assert violation.message == "upload did not serve a new client after the run: timed out"
    assert violation.time == 2


def test_serving_is_unknown_without_a_probe_of_a_used_service() -> None:
    assert check_serves_new_clients(USED, {}).status == "unknown"
    partial = probes({"serves": {"chat": SERVED["chat"]}})
    assert check_serves_new_clients(USED, partial).status == "unknown"
    assert check_serves_new_clients(H(), probes({"serves": SERVED})).status == "unknown"


def test_services_listed_in_the_observations_are_checked_too() -> None:
    observations = {**probes({"serves": SERVED}), "services": ["exec"]}
    assert check_serves_new_clients(USED, observations).status == "unknown"


def test_counters_back_to_baseline_pass() -> None:
    after = {"stats": {"chat": stats(), "upload": stats()}}
    verdict = check_counters_baseline(USED, probes(after))
    assert (verdict.status, verdict.checked) == ("pass", 2)


def test_a_connection_or_task_left_open_fails() -> None:
    after = {"stats": {"chat": stats(open_=2, tasks=2), "upload": stats()}}
    [violation] = check_counters_baseline(USED, probes(after)).violations
    assert violation.message == ("chat: connections_open 2 after the run, 0 before, "
                                 "tasks_open 2 after the run, 0 before")


def test_counters_are_unknown_without_stats_as_for_the_twins() -> None:
    twins = {"probe_before": {"stats": {"chat": None, "upload": None}},
             "probe_after": {"stats": {"chat": None, "upload": None}}}
    verdict = check_counters_baseline(USED, twins)
    assert verdict.status == "unknown"
    assert "no stats of chat" in verdict.detail
    lacking = probes({"stats": {"chat": {"connections_total": 1}, "upload": stats()}})
    assert check_counters_baseline(USED, lacking).status == "unknown"


def test_a_leak_fails_even_when_another_service_is_unknown() -> None:
    after = {"stats": {"chat": stats(open_=1), "upload": None}}
    assert check_counters_baseline(USED, probes(after)).status == "fail"
