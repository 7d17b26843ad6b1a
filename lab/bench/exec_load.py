"""``lab bench-load exec``: round-trip latency and streaming speed of one exec server.

Run in a client container of the lab network (``lab bench exec`` starts it)::

    lab bench-load exec --host exec --port 8000 --mode framed --runs 200 \\
        --stream-bytes 104857600

For each command (``true``, ``echo x``) and each way of connecting (``same``:
every run on one connection; ``new``: a connection per run, its set-up
timed too) it times ``--runs`` round trips, from the command's first byte
sent to its end received (EXIT, or the whole classic result), after
``--warmup`` untimed ones (none with ``--no-latency``); then it times
``--stream-runs`` runs of ``head -c BYTES /dev/zero`` and reports the best
and median speed. Every output is checked (status 0, the expected bytes, the whole stream).

It prints ONE JSON object on stdout::

    {"mode": "framed", "client": "library", "runs": 200, "complete": true,
     "latency": [{"command": "true", "connection": "same", "n": 200,
                  "p50_ms": 1.1, "p99_ms": 2.3, "mean_ms": 1.2, "min_ms": 0.9,
                  "max_ms": 3.0}, ...],
     "stream": {"bytes": 104857600, "runs": 3, "mb_per_s": 812.0,
                "median_mb_per_s": 790.0, "seconds": [...]},
     "seconds": 4.2}

MB is 10^6 bytes. ``--deadline`` bounds the whole program: a series cut
short by it reports the runs it made and ``"complete": false``.

Error handling: a run that does not end as expected exits with status 1 and
the reason on stderr (the bench then reports the section as not measured).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import click
import trio

from lab.bench.exec_clients import (
    BlockingFramedClient,
    ClassicClient,
    LibraryClient,
    LoadError,
    Ran,
    SyncClient,
)

MiB = 1 << 20
COMMANDS = ("true", "echo x")
EXPECTED = {"true": b"", "echo x": b"x\n"}  # stdout (classic: the result) of known commands
CONNECTIONS = ("same", "new")


@dataclass(frozen=True)
class Plan:
    """What to measure, and the time it may all take."""

    commands: tuple[str, ...] = COMMANDS
    connections: tuple[str, ...] = CONNECTIONS
    runs: int = 200
    warmup: int = 5
    stream_bytes: int = 100 * MiB
    stream_runs: int = 3
    deadline: float = 300.0  # seconds for the whole program


def stream_command(size: int) -> str:
    return f"head -c {size} /dev/zero"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 200 values is the 198th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(times: list[float]) -> dict[str, float | int]:
    """Milliseconds: p50, p99, mean, min, max of ``times`` (seconds)."""
    if not times:
        return {"n": 0}
    return {"n": len(times), "p50_ms": percentile(times, 0.50) * 1e3,
            "p99_ms": percentile(times, 0.99) * 1e3, "mean_ms": statistics.fmean(times) * 1e3,
            "min_ms": min(times) * 1e3, "max_ms": max(times) * 1e3}


def check(command: str, ran: Ran) -> None:
    """Raise :class:`LoadError` unless ``command`` ended as it must."""
    if ran.status not in (0, None):
        raise LoadError(f"{command!r} exited with status {ran.status}")
    expected = EXPECTED.get(command)
    if expected is not None and ran.stdout != expected:
        raise LoadError(f"{command!r} printed {ran.stdout[:80]!r}, not {expected!r}")


def check_stream(size: int, ran: Ran) -> None:
    if ran.status not in (0, None) or ran.stdout_bytes != size:
        raise LoadError(f"stream of {size} bytes: status {ran.status}, "
                        f"{ran.stdout_bytes} bytes")


def speeds(size: int, seconds: list[float]) -> dict[str, Any]:
    return {"bytes": size, "runs": len(seconds), "seconds": seconds,
            "mb_per_s": size / min(seconds) / 1e6 if seconds else 0.0,
            "median_mb_per_s": size / statistics.median(seconds) / 1e6 if seconds else 0.0}


# -- blocking clients ------------------------------------------------------------
def sync_series(client: SyncClient, command: str, connection: str, plan: Plan,
                deadline: float) -> list[float]:
    times: list[float] = []
    total = plan.warmup + plan.runs
    if connection == "same":
        with client.connect() as conn:
            for i in range(total):
                start = time.perf_counter()
                ran = conn.run(command)
                elapsed = time.perf_counter() - start
                check(command, ran)
                if i >= plan.warmup:
                    times.append(elapsed)
                if time.monotonic() > deadline:
                    break
        return times
    for i in range(total):
        start = time.perf_counter()
        with client.connect() as conn:
            ran = conn.run(command)
            elapsed = time.perf_counter() - start
        check(command, ran)
        if i >= plan.warmup:
            times.append(elapsed)
        if time.monotonic() > deadline:
            break
    return times


def sync_stream(client: SyncClient, plan: Plan, deadline: float) -> list[float]:
    seconds: list[float] = []
    command = stream_command(plan.stream_bytes)
    with client.connect() as conn:
        for _ in range(plan.stream_runs):
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            ran = conn.run(command, keep=False)
            seconds.append(time.perf_counter() - start)
            check_stream(plan.stream_bytes, ran)
    return seconds


# -- netlab's library --------------------------------------------------------------
async def async_series(client: LibraryClient, command: str, connection: str, plan: Plan,
                       deadline: float) -> list[float]:
    times: list[float] = []
    total = plan.warmup + plan.runs
    if connection == "same":
        async with client.connect() as conn:
            for i in range(total):
                start = time.perf_counter()
                ran = await conn.run(command)
                elapsed = time.perf_counter() - start
                check(command, ran)
                if i >= plan.warmup:
                    times.append(elapsed)
                if time.monotonic() > deadline:
                    break
        return times
    for i in range(total):
        start = time.perf_counter()
        async with client.connect() as conn:
            ran = await conn.run(command)
            elapsed = time.perf_counter() - start
        check(command, ran)
        if i >= plan.warmup:
            times.append(elapsed)
        if time.monotonic() > deadline:
            break
    return times


async def async_stream(client: LibraryClient, plan: Plan, deadline: float) -> list[float]:
    seconds: list[float] = []
    command = stream_command(plan.stream_bytes)
    async with client.connect() as conn:
        for _ in range(plan.stream_runs):
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            ran = await conn.run(command, keep=False)
            seconds.append(time.perf_counter() - start)
            check_stream(plan.stream_bytes, ran)
    return seconds


def measure(client: SyncClient | LibraryClient, plan: Plan) -> dict[str, Any]:
    """Every series of ``plan`` against ``client``'s server; the JSON the program prints."""
    began = time.monotonic()
    deadline = began + plan.deadline
    latency = []
    complete = True
    for command in plan.commands:
        for connection in plan.connections:
            if time.monotonic() > deadline:
                complete = False
                break
            if isinstance(client, LibraryClient):
                times = trio.run(async_series, client, command, connection, plan, deadline)
            else:
                times = sync_series(client, command, connection, plan, deadline)
            complete = complete and len(times) == plan.runs
            latency.append({"command": command, "connection": connection, **summarize(times)})
    stream = None
    if plan.stream_bytes and plan.stream_runs:
        if isinstance(client, LibraryClient):
            seconds = trio.run(async_stream, client, plan, deadline)
        else:
            seconds = sync_stream(client, plan, deadline)
        complete = complete and len(seconds) == plan.stream_runs
        stream = speeds(plan.stream_bytes, seconds)
    return {"latency": latency, "stream": stream, "complete": complete,
            "seconds": time.monotonic() - began}


@click.command()
@click.option("--host", required=True, help="The exec server's host name.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--mode", type=click.Choice(["framed", "classic"]), default="framed",
              show_default=True, help="netlab's framed protocol, or the tutorial's exchange.")
@click.option("--client", "client_kind", type=click.Choice(["library", "blocking"]),
              default="library", show_default=True,
              help="Framed mode: netlab's async client library, or a minimal blocking client.")
@click.option("--token", envvar="NETLAB_EXEC_TOKEN", default="netlab-lab", show_default=True)
@click.option("--command", "commands", multiple=True, default=COMMANDS, show_default=True,
              help="A command to time (repeatable).")
@click.option("--connection", "connections", multiple=True, type=click.Choice(CONNECTIONS),
              default=CONNECTIONS, show_default=True,
              help="same: one connection for all runs; new: a connection per run.")
@click.option("--no-latency", is_flag=True,
              help="Time no round trip (only the streaming runs).")
@click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True)
@click.option("--stream-bytes", type=click.IntRange(min=0), default=100 * MiB, show_default=True,
              help="Output of the streaming command (0: no streaming run).")
@click.option("--stream-runs", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--deadline", type=float, default=300.0, show_default=True,
              help="Seconds the whole program may take.")
def cli(host: str, port: int, mode: str, client_kind: str, token: str,
        commands: tuple[str, ...], connections: tuple[str, ...], no_latency: bool, runs: int,
        warmup: int, stream_bytes: int, stream_runs: int, deadline: float) -> None:
    """Time exec round trips and streaming against one server; print one JSON object."""
    if no_latency:
        connections = ()
    plan = Plan(commands, connections, runs, warmup, stream_bytes, stream_runs, deadline)
    client: SyncClient | LibraryClient
    if mode == "classic":
        client, client_kind = ClassicClient(host, port), "tutorial"
    elif client_kind == "blocking":
        client = BlockingFramedClient(host, port, token)
    else:
        client = LibraryClient(host, port, token)
    try:
        result = measure(client, plan)
    except (LoadError, OSError) as exc:
        click.echo(f"bench-load exec: {host}:{port} ({mode}): {exc}", err=True)
        sys.exit(1)
    header = {"mode": mode, "client": client_kind, "host": host, "port": port, "runs": runs}
    click.echo(json.dumps({**header, **result}))
