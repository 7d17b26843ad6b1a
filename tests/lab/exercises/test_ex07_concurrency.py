"""Exercise 7's own parts: the server's footprint read from /proc, and the percentile."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab.exercises.ex07_concurrency import _percentile, footprint

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


def test_the_footprint_counts_a_process_and_its_children() -> None:
    alone = footprint(os.getpid())
    assert alone is not None
    assert alone.processes >= 1 and alone.threads >= 1 and alone.kib > 0
    assert alone.measure in ("PSS", "RSS")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with_child = footprint(os.getpid())
        assert with_child is not None
        assert with_child.processes >= alone.processes + 1
    finally:
        child.kill()
        child.wait()


def test_a_vanished_process_has_no_footprint() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert footprint(child.pid) is None


def test_the_percentile_takes_the_value_at_that_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert _percentile(values, 0.99) == 100.0
    assert _percentile(values, 0.5) == 51.0
    assert _percentile([3.0], 0.99) == 3.0
