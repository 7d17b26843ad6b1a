"""The whole scenario catalogue, as docs/harness.md runs it: netlab passes, each twin fails.

The ```` ```sh docker scenarios ```` block of docs/harness.md runs once (it
takes minutes: every scenario against netlab's servers, then against the
broken twins, then replays), in a copy of the project; the tests read the
files it leaves. Its own exit status is the replays' verdict: ``lab replay``
exits 1 when a verdict changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.results import RunRecord
from lab.scenarios.catalog import SCENARIOS
from lab.twins import BREAKS
from tests.support.docblocks import blocks, copy_project, to_script, user_env

SCENARIO_BLOCKS = blocks("sh docker scenarios")
CATALOGUE_TIMEOUT = 1500  # seconds: both runs and the replays, on 2 busy cores


@pytest.fixture(scope="module")
def catalogue_run(tmp_path_factory: pytest.TempPathFactory, docker_lab: None) -> Iterator[Path]:
    """The project copy the docs' scenario block ran in (it must have exited 0)."""
    assert len(SCENARIO_BLOCKS) == 1, "docs/harness.md should hold one ```sh docker scenarios"
    block = SCENARIO_BLOCKS[0]
    project = copy_project(tmp_path_factory.mktemp("catalogue") / "project")
    result = subprocess.run(["sh", "-c", to_script(block)], cwd=project, env=user_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=CATALOGUE_TIMEOUT)
    assert result.returncode == 0, (
        f"{block.id} failed ({result.returncode})\n--- stdout\n{result.stdout[-6000:]}"
        f"\n--- stderr\n{result.stderr[-6000:]}")
    yield project


def _table(run: RunRecord) -> str:
    return "\n".join(f"{r.name}: {r.status} {r.failed() or r.error or ''}" for r in run.results)


@pytest.mark.timeout(CATALOGUE_TIMEOUT + 120)
def test_netlab_passes_every_scenario(catalogue_run: Path) -> None:
    run = RunRecord.load(catalogue_run / "netlab-run.json")
    assert run.target == "netlab"
    assert [r.name for r in run.results] == list(SCENARIOS)
    assert all(r.status == "pass" for r in run.results), _table(run)
    junit = (catalogue_run / "netlab-run.xml").read_text(encoding="utf-8")
    assert 'failures="0"' in junit and 'errors="0"' in junit


@pytest.mark.timeout(CATALOGUE_TIMEOUT + 120)
@pytest.mark.parametrize("twin", sorted(BREAKS))
def test_each_twin_fails_with_its_invariant(catalogue_run: Path, twin: str) -> None:
    run = RunRecord.load(catalogue_run / "twins-run.json")
    assert run.target == "twins"
    failed = {invariant for r in run.results for invariant in r.failed()}
    assert set(BREAKS[twin]) <= failed, _table(run)
    for result in run.results:
        for verdict in result.verdicts:
            for violation in verdict.violations:
                assert violation.invariant == verdict.invariant
                assert violation.concept, f"{verdict.invariant} names no concept"


@pytest.mark.timeout(CATALOGUE_TIMEOUT + 120)
def test_the_twins_violations_name_the_fault_active_then(catalogue_run: Path) -> None:
    run = RunRecord.load(catalogue_run / "twins-run.json")
    cut = next(r for r in run.results if r.name == "upload-cut-and-resume")
    verdict = cut.verdict("upload.complete-or-absent")
    assert verdict.status == "fail", _table(run)
    assert any(v.fault and "reset-peer" in v.fault for v in verdict.violations), verdict


@pytest.mark.timeout(CATALOGUE_TIMEOUT + 120)
def test_the_report_of_the_twins_run_is_written(catalogue_run: Path) -> None:
    html = (catalogue_run / "twins-report.html").read_text(encoding="utf-8")
    assert "upload-cut-and-resume" in html and "upload.complete-or-absent" in html
