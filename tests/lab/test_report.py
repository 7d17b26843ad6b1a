"""lab report: a self-contained HTML page with fault bands, client lanes and violations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from lab.history import History, Op
from lab.invariants.violations import Verdict, Violation
from lab.report import MAX_MARKS, SERVERS_LANE, cli, render, timeline
from lab.results import RunRecord
from tests.lab.invariants.samples import CUT, T0, cut_kind, result, run


@pytest.fixture(autouse=True)
def _cut_kind() -> Iterator[None]:
    with cut_kind():
        yield


def test_the_page_shows_the_fault_band_the_lanes_and_the_violation() -> None:
    html = render(run())
    assert html.startswith("<!DOCTYPE html>")
    assert re.search(r'<div class="band" style="left: 30\.0%; width: 11\.111%" '
                     r'title="test-cut\(service=chat,client=obs\.chat-1\)"', html)
    assert 'title="obs.chat-0"' in html and 'title="obs.chat-1"' in html
    violation = re.search(r'<i class="mark violation" style="left: ([0-9.]+)%" title="([^"]*)"',
                          html)
    assert violation is not None
    assert violation.group(1) == "33.333"
    assert violation.group(2).startswith("chat.delivery: did not receive 1 of the 3")
    assert "TCP is a byte stream" in html
    assert "StackError: no" in html


def test_the_page_is_self_contained() -> None:
    html = render(run()).lower()
    assert "http" not in html
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert "url(" not in html and "@import" not in html


def test_the_timeline_places_everything_in_percent_of_the_span() -> None:
    drawn = timeline(result())
    [band] = drawn.bands
    assert (band.left, band.width, band.label) == (30.0, 11.111, CUT.label())
    assert [lane.name for lane in drawn.lanes] == ["obs.chat-0", "obs.chat-1"]
    assert drawn.ticks[0] == (0.0, "+0.0 s") and drawn.ticks[-1] == (100.0, "+9.0 s")
    assert all(0 <= m.left <= 100 for lane in drawn.lanes for m in lane.marks)


def test_a_violation_without_a_process_goes_to_the_servers_lane() -> None:
    leak = Violation("all.counters-baseline", "chat: connections_open 1", None, None, "none")
    sample = result()
    with_leak = replace(sample, verdicts=(
        *sample.verdicts, Verdict("all.counters-baseline", "fail", (leak,), 1)))
    lanes = {lane.name: lane for lane in timeline(with_leak).lanes}
    assert [m.left for m in lanes[SERVERS_LANE].violations] == [100.0]


def test_busy_lanes_are_thinned_but_keep_every_error() -> None:
    ops = [Op(T0 + i / 1000, "obs.chat-0", "info", "recv", {"from": "x", "seq": i})
           for i in range(2000)]
    ops += [Op(T0 + 1.5, "obs.chat-0", "info", "disconnected", {"error": "reset"})]
    busy = replace(result(), history=History(sorted(ops, key=lambda op: op.time)), verdicts=())
    [lane] = timeline(busy).lanes
    assert (lane.shown, lane.total) == (MAX_MARKS, 2001)
    assert sum(m.css == "error" for m in lane.marks) == 1
    assert f"({MAX_MARKS}/2001)" in render(RunRecord(7, "netlab", (busy,)))


def test_text_from_the_run_is_escaped() -> None:
    evil = result()
    op = Op(T0 + 1, "obs.chat-0", "info", "garbled", {"text": "<script>alert(1)</script>"})
    evil = replace(evil, history=History([*evil.history.ops, op]))
    html = render(RunRecord(7, "netlab", (evil,)))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_command_writes_the_page_beside_the_run(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run().save(run_file)
    outcome = CliRunner().invoke(cli, [str(run_file)])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output == f"wrote {tmp_path / 'run.html'}\n"
    assert "mark violation" in (tmp_path / "run.html").read_text(encoding="utf-8")


def test_the_command_writes_where_it_is_told(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run().save(run_file)
    out = tmp_path / "out" / "page.html"
    out.parent.mkdir()
    outcome = CliRunner().invoke(cli, [str(run_file), "-o", str(out)])
    assert outcome.exit_code == 0, outcome.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_command_refuses_a_file_that_is_not_a_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1}', encoding="utf-8")
    outcome = CliRunner().invoke(cli, [str(bad)])
    assert outcome.exit_code == 1
    assert "is not a run record" in outcome.output
    assert not (tmp_path / "bad.html").exists()


def test_the_command_draws_a_run_whose_fault_kinds_are_no_longer_known(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    data = run().to_json()
    data["results"][0]["plan"]["faults"][0]["fault"]["kind"] = "renamed-since"
    run_file.write_text(json.dumps(data), encoding="utf-8")
    outcome = CliRunner().invoke(cli, [str(run_file)])
    assert outcome.exit_code == 0, outcome.output
    assert "mark violation" in (tmp_path / "run.html").read_text(encoding="utf-8")
