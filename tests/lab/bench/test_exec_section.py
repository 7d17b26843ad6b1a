"""lab bench exec's figures from its loads' JSON, its load commands, and docker exec timing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from lab.bench.exec import (
    FULL,
    QUICK,
    blocking_notes,
    docker_exec_times,
    joined,
    latency_figures,
    load_argv,
    stream_figure,
)
from lab.bench.exec_load import cli
from lab.errors import BenchError


def load(p50: float, *, client: str = "library", stream: float | None = None) -> dict[str, Any]:
    """What ``lab bench-load exec`` prints, every p50 ``p50`` ms (p99 twice that)."""
    latency = [{"command": c, "connection": k, "n": 200, "p50_ms": p50, "p99_ms": 2 * p50}
               for c in ("true", "echo x") for k in ("same", "new")]
    result: dict[str, Any] = {"client": client, "latency": latency, "complete": True}
    if stream is not None:
        result["stream"] = {"bytes": 100 << 20, "runs": 3, "mb_per_s": stream,
                            "median_mb_per_s": stream * 0.9, "seconds": []}
    return result


def test_each_p50_has_the_stdlib_docker_and_unsandboxed_baselines() -> None:
    figures = latency_figures("framed", load(4.0), load(2.0), 80.0, {}, load(3.0))
    assert len(figures) == 8
    p50 = next(f for f in figures if f.name == "framed-true-same-conn-p50")
    assert p50.baselines == {"stdlib-threaded": 2.0, "docker-exec": 80.0,
                             "netlab-unsandboxed": 3.0}
    assert p50.ratio("stdlib-threaded") == 2.0 and not p50.higher_is_better
    assert p50.goal == "<= 1.2x stdlib-threaded; <= 0.05x docker-exec"
    p99 = next(f for f in figures if f.name == "framed-echo-x-new-conn-p99")
    assert (p99.value, p99.baselines, p99.goal) == (8.0, {"stdlib-threaded": 4.0}, None)


def test_notes_say_how_it_was_measured() -> None:
    notes = blocking_notes(load(1.5, client="blocking"), load(1.0, client="blocking"))
    figures = latency_figures("classic", load(4.0, client="tutorial"), load(2.0), 80.0, notes)
    first = figures[0]
    assert "200 runs, tutorial client, one connection" in first.notes
    assert "blocking client p50: netlab 1.50 ms, stdlib 1.00 ms" in first.notes
    assert "sandbox" in first.notes


def test_streaming_is_a_speed_against_the_stdlib_server() -> None:
    figure = stream_figure("framed", load(1, stream=600.0), load(1, stream=1000.0), "blocking")
    assert (figure.name, figure.unit, figure.higher_is_better) == (
        "framed-stream-100MiB", "MB/s", True)
    assert figure.ratio("stdlib-threaded") == pytest.approx(0.6)
    assert figure.goal == ">= 2x stdlib-threaded"


def test_a_missing_series_is_a_bench_error() -> None:
    with pytest.raises(BenchError):
        latency_figures("framed", {"client": "x", "latency": []}, load(1.0), 80.0, {})


def test_load_commands_parse_as_the_load_program_expects() -> None:
    argv = load_argv("exec", 8000, "framed", QUICK, client="blocking", latency=("same",),
                     stream=FULL.framed_stream)
    assert argv[:3] == ["lab", "bench-load", "exec"]
    context = cli.make_context("exec", argv[3:])
    assert context.params["client_kind"] == "blocking"
    assert context.params["connections"] == ("same",)
    assert context.params["stream_bytes"] == 100 << 20
    assert context.params["runs"] == QUICK.runs


def test_a_streaming_load_times_no_round_trip() -> None:
    argv = load_argv("exec", 8000, "classic", FULL, latency=(), stream=FULL.classic_stream)
    context = cli.make_context("exec", argv[3:])
    assert context.params["no_latency"] is True
    assert context.params["stream_runs"] == FULL.stream_runs
    latency_only = cli.make_context("exec", load_argv("exec", 8000, "classic", FULL)[3:])
    assert latency_only.params["no_latency"] is False
    assert latency_only.params["stream_runs"] == 0


def test_a_latency_and_a_streaming_load_join_as_one() -> None:
    latency = load(2.0, client="tutorial")
    stream = {**load(1.0, stream=300.0), "latency": []}
    both = joined(latency, stream)
    assert both["latency"] == latency["latency"] and both["stream"]["mb_per_s"] == 300.0
    assert both["complete"] is True
    assert joined(latency, {**stream, "complete": False})["complete"] is False
    figure = stream_figure("classic", both, both, "tutorial")
    assert figure.value == 300.0


@dataclass
class FakeExec:
    exit_code: int


class FakeContainer:
    name = "exec"
    id = "abc"

    def __init__(self, status: int = 0) -> None:
        self.calls = 0
        self.status = status

    def exec_run(self, argv: list[str]) -> FakeExec:
        assert argv == ["true"]
        self.calls += 1
        return FakeExec(self.status)


def test_docker_exec_uses_the_sdk_without_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    container = FakeContainer()
    times, how = docker_exec_times(container, 4)
    assert len(times) == 4 and container.calls == 5  # one untimed first
    assert how == "docker SDK exec_run"


def test_a_failing_docker_exec_is_a_bench_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(BenchError):
        docker_exec_times(FakeContainer(status=1), 2)
