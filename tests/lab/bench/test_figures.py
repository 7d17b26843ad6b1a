"""Bench figures: ratios to same-run baselines, the run's JSON, the table."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console

from lab.bench.figures import BenchRecord, Figure, markdown, table


def upload() -> Figure:
    return Figure("upload", "netlab-1GiB", 500.0, "MB/s", True,
                  {"iperf3": 2000.0, "blocking-256KiB": 1000.0}, ">= 0.5x iperf3")


def test_a_ratio_is_value_over_baseline() -> None:
    figure = upload()
    assert figure.ratio("iperf3") == 0.25
    assert figure.ratio("blocking-256KiB") == 0.5
    assert math.isnan(figure.ratio("absent"))
    assert math.isnan(Figure("x", "y", 1.0, "ms", False, {"zero": 0.0}).ratio("zero"))


def record() -> BenchRecord:
    latency = Figure("exec", "true-p50", 1.5, "ms", False, {"stdlib": 1.0})
    return BenchRecord(figures=(upload(), latency), machine={"cores": 2}, host_load=(1.0, 2.5),
                       started=1.0, seconds=60.0, quick=True, sections=("upload", "exec"),
                       errors={"chat": "BenchError: never accepted"})


def test_a_record_survives_json(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    record().save(path)
    again = BenchRecord.load(path)
    assert again == record()
    assert '"ratios"' in path.read_text()


def test_the_table_shows_values_baselines_ratios_goals_and_errors() -> None:
    console = Console(width=200, record=True)
    console.print(table(record()))
    text = console.export_text()
    assert "upload: netlab-1GiB" in text and "500 MB/s" in text
    assert "iperf3: 2,000 (0.25x)" in text and ">= 0.5x iperf3" in text
    assert "lower" in text and "chat: (not measured)" in text
    assert "2 cores, load 1.0-2.5" in text


def test_the_markdown_table_has_a_row_a_figure() -> None:
    text = markdown(record())
    assert "2 cores" in text and "host load (1 min) 1.0-2.5" in text
    assert "| upload: netlab-1GiB | 500 MB/s | iperf3: 2,000 (0.25x)<br>" in text
    assert "| chat: not measured |" in text
