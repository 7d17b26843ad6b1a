"""Run records: JSON round trips, the results table and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from lab.invariants.violations import Verdict
from lab.results import RunRecord, ScenarioResult, junit_xml, table
from tests.lab.invariants.samples import CUT, T0, cut_kind, result, run


@pytest.fixture(autouse=True)
def _cut_kind() -> Iterator[None]:
    with cut_kind():
        yield


def rendered(record: RunRecord) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(table(record))
    return console.export_text()


def test_the_sample_scenario_fails_chat_delivery_under_the_cut() -> None:
    sample = result()
    assert sample.status == "fail"
    assert sample.failed() == ["chat.delivery"]
    assert sample.verdict("chat.delivery").faults() == [CUT.label()]
    assert sample.verdict("all.counters-baseline").status == "unknown"


def test_a_run_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    original = run()
    original.save(path)
    again = RunRecord.load(path)
    assert again == original
    assert again.results[0].history.ops == original.results[0].history.ops
    assert again.results[0].plan == original.results[0].plan


def test_another_run_format_is_refused() -> None:
    data = run().to_json()
    data["version"] = 0
    with pytest.raises(ValueError, match="run format 0"):
        RunRecord.from_json(data)


def test_scenario_status_is_the_worst_verdict_and_error_beats_all() -> None:
    assert [r.status for r in run().results] == ["fail", "error"]
    passing = ScenarioResult("s", "netlab", 1, None, result().history, {},
                             (Verdict("chat.order", "pass", checked=1),), T0, 1.0)
    assert passing.status == "pass"
    assert ScenarioResult("s", "twins", 1, None, passing.history, {}, (), T0, 1.0).status == (
        "unknown")
    with pytest.raises(ValueError):
        ScenarioResult("s", "prod", 1, None, passing.history, {}, (), T0, 1.0)  # type: ignore[arg-type]
    assert run().counts() == {"pass": 0, "fail": 1, "unknown": 0, "error": 1}


def test_the_table_has_a_row_per_invariant_and_one_for_a_scenario_that_could_not_run() -> None:
    grid = table(run())
    assert [c.header for c in grid.columns] == ["scenario", "fault", "invariant", "verdict",
                                                "time"]
    assert grid.row_count == 4


def test_a_failing_row_names_the_fault_the_concept_and_when() -> None:
    text = rendered(run())
    row = next(line for line in text.splitlines() if "chat.delivery" in line)
    assert CUT.label() in row and "fail" in row and "+3.0 s" in row
    assert "TCP is a byte stream" in text
    assert "did not receive 1 of the 3 messages of obs.chat-0" in text
    assert "StackError: no" in text
    assert "1 fail, 1 error" in text


def test_junit_xml_parses_with_a_case_per_scenario_and_invariant() -> None:
    root = ET.fromstring(junit_xml(run()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["lab.netlab.chat-cut"] * 2
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == ["chat.delivery", "chat.order",
                                              "all.counters-baseline"]
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("type") == "chat.delivery"
    assert "did not receive" in (failure.get("message") or "")
    assert f"[{CUT.label()}] obs.chat-1 +3.0 s" in (failure.text or "")
    assert "concept: TCP is a byte stream" in (failure.text or "")
    assert cases[1].find("failure") is None and cases[1].find("skipped") is None
    skipped = cases[2].find("skipped")
    assert skipped is not None and "no stats" in (skipped.get("message") or "")
    error = suites[1].find("testcase/error")
    assert error is not None and error.get("message") == "StackError: no"
    properties = {(p.get("name"), p.get("value")) for p in suites[0].iter("property")}
    assert ("seed", "7") in properties and ("fault", CUT.label()) in properties


def test_a_plan_that_no_longer_loads_is_refused_or_dropped_when_lenient() -> None:
    data = run().to_json()
    data["results"][0]["plan"]["faults"][0]["fault"]["kind"] = "renamed-since"
    with pytest.raises(ValueError, match="unknown fault kind 'renamed-since'"):
        RunRecord.from_json(data)
    lenient = RunRecord.from_json(data, lenient=True)
    assert lenient.results[0].plan is None
    assert lenient.results[0].verdicts == run().results[0].verdicts
