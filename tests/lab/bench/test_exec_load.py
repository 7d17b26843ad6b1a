"""lab bench-load exec on loopback: against the stdlib baseline and netlab's own exec server."""

from __future__ import annotations

import json
from functools import partial

import pytest
import trio
from click.testing import CliRunner

from lab.bench.exec_clients import (
    BlockingFramedClient,
    ClassicClient,
    LibraryClient,
    LoadError,
    Ran,
)
from lab.bench.exec_load import Plan, check, cli, measure, percentile, summarize
from tests.lab.bench.exec_servers import TOKEN, running_baseline
from tests.support.servers import EXEC_TOKEN, StartExec, start_exec

SMALL = Plan(runs=4, warmup=1, stream_bytes=300_000, stream_runs=2, deadline=60.0)


@pytest.fixture
def start_server(nursery: trio.Nursery) -> StartExec:
    return partial(start_exec, nursery)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 201)]
    assert percentile(values, 0.5) == 100.0
    assert percentile(values, 0.99) == 198.0
    assert percentile([3.0], 0.99) == 3.0


def test_summaries_are_in_milliseconds() -> None:
    summary = summarize([0.001, 0.002, 0.003])
    assert summary["n"] == 3
    assert summary["p50_ms"] == pytest.approx(2.0)
    assert summary["max_ms"] == pytest.approx(3.0)
    assert summarize([]) == {"n": 0}


def test_a_wrong_output_is_an_error() -> None:
    check("echo x", Ran(0, b"x\n", 2))
    with pytest.raises(LoadError):
        check("echo x", Ran(0, b"y\n", 2))
    with pytest.raises(LoadError):
        check("true", Ran(1, b"", 0))


def assert_measured(result: dict[str, object], plan: Plan) -> None:
    assert result["complete"] is True
    latency = result["latency"]
    assert isinstance(latency, list)
    assert {(s["command"], s["connection"]) for s in latency} == {
        (c, k) for c in plan.commands for k in plan.connections}
    assert all(s["n"] == plan.runs and 0 < s["p50_ms"] <= s["p99_ms"] for s in latency)
    stream = result["stream"]
    assert isinstance(stream, dict)
    assert stream["bytes"] == plan.stream_bytes and stream["runs"] == plan.stream_runs
    assert stream["mb_per_s"] > 0


@pytest.mark.parametrize("mode", ["library", "blocking", "classic"])
async def test_every_series_against_the_stdlib_baseline(mode: str) -> None:
    with running_baseline("classic" if mode == "classic" else "framed") as server:
        client = {"library": LibraryClient("127.0.0.1", server.port, TOKEN),
                  "blocking": BlockingFramedClient("127.0.0.1", server.port, TOKEN),
                  "classic": ClassicClient("127.0.0.1", server.port)}[mode]
        result = await trio.to_thread.run_sync(measure, client, SMALL)
    assert_measured(result, SMALL)


@pytest.mark.parametrize("mode", ["library", "blocking", "classic"])
async def test_every_series_against_netlabs_exec_server(start_server: StartExec,
                                                        mode: str) -> None:
    server = await start_server()
    client = {"library": LibraryClient("127.0.0.1", server.port, EXEC_TOKEN),
              "blocking": BlockingFramedClient("127.0.0.1", server.port, EXEC_TOKEN),
              "classic": ClassicClient("127.0.0.1", server.port)}[mode]
    result = await trio.to_thread.run_sync(measure, client, SMALL)
    assert_measured(result, SMALL)
    assert server.counters.extra["commands_finished"] == 2 * (
        SMALL.warmup + SMALL.runs) * 2 + SMALL.stream_runs


async def test_a_wrong_token_fails_the_load(start_server: StartExec) -> None:
    server = await start_server()
    client = LibraryClient("127.0.0.1", server.port, "wrong")
    with pytest.raises(LoadError, match="AuthFailed"):
        await trio.to_thread.run_sync(measure, client, SMALL)


def test_the_deadline_cuts_the_series_short() -> None:
    plan = Plan(runs=1000, warmup=0, stream_bytes=0, deadline=0.0)
    with running_baseline("framed") as server:
        result = measure(BlockingFramedClient("127.0.0.1", server.port, TOKEN), plan)
    assert result["complete"] is False
    assert result["stream"] is None
    assert all(series["n"] < plan.runs for series in result["latency"])


def test_the_command_prints_one_json_object() -> None:
    with running_baseline("framed") as server:
        outcome = CliRunner().invoke(cli, [
            "--host", "127.0.0.1", "--port", str(server.port), "--client", "blocking",
            "--token", TOKEN, "--runs", "2", "--warmup", "0", "--connection", "same",
            "--command", "echo x", "--stream-bytes", "1000", "--stream-runs", "1"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.output)
    assert (result["mode"], result["client"], result["runs"]) == ("framed", "blocking", 2)
    assert [s["command"] for s in result["latency"]] == ["echo x"]
    assert result["stream"]["bytes"] == 1000


def test_a_failed_run_exits_1_with_the_reason() -> None:
    with running_baseline("framed") as server:
        outcome = CliRunner().invoke(cli, [
            "--host", "127.0.0.1", "--port", str(server.port), "--client", "blocking",
            "--token", TOKEN, "--runs", "1", "--command", "exit 3", "--stream-bytes", "0"])
    assert outcome.exit_code == 1
    assert "status 3" in outcome.output
