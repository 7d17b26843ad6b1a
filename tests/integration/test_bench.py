"""``lab bench --quick``, as docs/performance.md runs it: every section measures,
and one section is profiled.

The ```` ```sh docker bench ```` block of docs/performance.md runs once in a
copy of the project; the test reads the JSON it writes and the profiles. No
timing is asserted: only that each section produced figures, each with its
baselines and ratios, and that the profiled section's summary names frames of
netlab's server.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from lab.bench.cli import SECTIONS
from lab.bench.profiles import parse_collapsed
from tests.support.docblocks import blocks, copy_project, to_script, user_env

BENCH_BLOCKS = blocks("sh docker bench")
BENCH_TIMEOUT = 1200  # the whole quick bench, then one section again, profiled
PROFILED = "chat"  # the section the block profiles (lab bench chat --quick --profile profiles)


@pytest.mark.timeout(BENCH_TIMEOUT + 120)
def test_the_quick_bench_measures_every_section(tmp_path: Path, docker_lab: None) -> None:
    assert len(BENCH_BLOCKS) == 1, "docs/performance.md should hold one ```sh docker bench block"
    block = BENCH_BLOCKS[0]
    project = copy_project(tmp_path / "project")
    result = subprocess.run(["sh", "-c", to_script(block)], cwd=project, env=user_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=BENCH_TIMEOUT)
    assert result.returncode == 0, (
        f"{block.id} failed ({result.returncode})\n--- stdout\n{result.stdout[-6000:]}"
        f"\n--- stderr\n{result.stderr[-6000:]}")
    record = json.loads((project / "bench.json").read_text(encoding="utf-8"))
    assert record["quick"] is True and record["errors"] == {}
    assert record["machine"]["cores"] >= 1 and record["host_load"]
    measured = {figure["section"] for figure in record["figures"]}
    assert measured == set(SECTIONS)
    for figure in record["figures"]:
        assert figure["value"] > 0 and math.isfinite(figure["value"]), figure
        assert figure["baselines"], f"{figure['name']} has no baseline"
        assert set(figure["ratios"]) == set(figure["baselines"])
    profiles = project / "profiles"
    summary = (profiles / f"{PROFILED}-summary.md").read_text(encoding="utf-8")
    for figure in ("saturation", "p99-100x10"):
        assert f"## {PROFILED}-{figure}" in summary, summary
        stacks = parse_collapsed((profiles / f"{PROFILED}-{figure}.txt").read_text())
        assert sum(stacks.values()) > 0
    assert "| `" in summary and "(services/" in summary, summary
