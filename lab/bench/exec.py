"""``lab bench exec``: netlab's exec server against a stdlib threaded server and ``docker exec``.

Baselines, each started in the same run: the stdlib ``ThreadingTCPServer``
exec server (:mod:`lab.bench.baselines.threaded_exec`), one container for
its framed mode and one for its classic mode; ``docker exec CONTAINER
true`` on netlab's exec container, timed from the host (the Docker CLI; the
SDK when the CLI is missing); and, to tell the sandbox's share of the
latencies, netlab's own exec server with ``--sandbox-uids off``
(``netlab-unsandboxed``, a baseline of the p50s).

Loads (:mod:`lab.bench.exec_load`, in client containers of the lab network,
straight to each server, not through the gateway):

* framed, netlab's client library: ``true`` and ``echo x``, p50/p99 over
  ``runs`` round trips on one connection and with a new connection each;
* framed, a minimal blocking client: the same on one connection (in the
  notes: the server's share without the library's) and the streaming
  figure, ``head -c`` 100 MiB, where the library's receive path, not the
  server, would be the bound;
* classic, the tutorial's client: the same latencies, and 50 MiB streamed
  (netlab holds a classic answer whole, up to ``--classic-output-limit``,
  64 MiB).

Goals (issue 12): p50 <= 1.2x the stdlib server's, framed and classic;
streaming >= 2x; p50 <= 1/20 of ``docker exec``. netlab's exec runs each
command as its own uid (the lab's sandbox) in a container limited to one
CPU; the baselines run commands as their own uid with no CPU limit. The
figures' notes say so.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import trio

from lab.bench.context import BenchContext
from lab.bench.exec_load import MiB, percentile
from lab.bench.figures import Figure
from lab.errors import BenchError

SECTION = "exec"
PORT = 9000  # the baselines'
NETLAB_HOST, NETLAB_PORT = "exec", 8000
FRAMED_BASELINE, CLASSIC_BASELINE = "exec-threaded", "exec-threaded-classic"
UNSANDBOXED_HOST = "exec-unsandboxed"
STDLIB, DOCKER, UNSANDBOXED = "stdlib-threaded", "docker-exec", "netlab-unsandboxed"
DOCKER_EXEC_TIMEOUT = 30.0
SANDBOX_NOTE = ("netlab: each command as its own uid (sandbox), container capped at 1 CPU; "
                "stdlib and netlab-unsandboxed (the same server, --sandbox-uids off): commands"
                " as the server's uid, no CPU cap")


@dataclass(frozen=True)
class Sizes:
    """How much each load does (``--quick`` or the full run)."""

    runs: int
    warmup: int
    framed_stream: int
    classic_stream: int
    stream_runs: int
    docker_runs: int
    deadline: float


FULL = Sizes(runs=200, warmup=10, framed_stream=100 * MiB, classic_stream=50 * MiB,
             stream_runs=3, docker_runs=50, deadline=240.0)
QUICK = Sizes(runs=30, warmup=3, framed_stream=8 * MiB, classic_stream=8 * MiB,
              stream_runs=2, docker_runs=10, deadline=60.0)


def load_argv(host: str, port: int, mode: str, sizes: Sizes, *, client: str = "library",
              latency: tuple[str, ...] = ("same", "new"), stream: int = 0) -> list[str]:
    """``lab bench-load exec ...`` for one server, mode and client."""
    argv = ["lab", "bench-load", "exec", "--host", host, "--port", str(port), "--mode", mode,
            "--client", client, "--runs", str(sizes.runs), "--warmup", str(sizes.warmup),
            "--stream-bytes", str(stream), "--stream-runs", str(sizes.stream_runs if stream else 0),
            "--deadline", str(sizes.deadline)]
    if not latency:
        argv.append("--no-latency")
    for connection in latency:
        argv += ["--connection", connection]
    return argv


def size_label(size: int) -> str:
    return f"{size // MiB}MiB" if size % MiB == 0 else f"{size}B"


def _series(result: dict[str, Any], command: str, connection: str) -> dict[str, Any]:
    for series in result.get("latency", []):
        if series["command"] == command and series["connection"] == connection:
            found: dict[str, Any] = series
            return found
    raise BenchError(f"exec load: no {command!r}/{connection} series in {result}")


def _complete(result: dict[str, Any], what: str) -> None:
    if not result.get("complete"):
        raise BenchError(f"exec load {what} ran out of time: {result}")


# -- docker exec, timed from the host ------------------------------------------------
def docker_exec_times(container: Any, runs: int) -> tuple[list[float], str]:
    """Seconds per ``docker exec CONTAINER true`` (the CLI, else the SDK); and which it was."""
    cli = shutil.which("docker")
    times: list[float] = []
    for _ in range(runs + 1):  # the first one is not timed (caches warm up)
        start = time.perf_counter()
        if cli is not None:
            done = subprocess.run([cli, "exec", container.id, "true"], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=DOCKER_EXEC_TIMEOUT, check=False)
            status = done.returncode
        else:
            status = container.exec_run(["true"]).exit_code
        times.append(time.perf_counter() - start)
        if status != 0:
            raise BenchError(f"docker exec {container.name} true exited {status}")
    return times[1:], "docker CLI" if cli is not None else "docker SDK exec_run"


# -- figures -----------------------------------------------------------------------
def latency_figures(mode: str, netlab: dict[str, Any], stdlib: dict[str, Any],
                    docker_p50: float, notes: dict[tuple[str, str], str],
                    unsandboxed: dict[str, Any] | None = None) -> list[Figure]:
    """p50 and p99 of each command and way of connecting, for ``mode``.

    ``unsandboxed``: the same load against netlab's server with the sandbox
    off, a baseline of the p50s that tells the sandbox's share.
    """
    figures = []
    for command in ("true", "echo x"):
        slug = command.replace(" ", "-")
        for connection in ("same", "new"):
            ours, theirs = _series(netlab, command, connection), _series(stdlib, command,
                                                                         connection)
            name = f"{mode}-{slug}-{connection}-conn"
            note = (f"{ours['n']} runs, {netlab['client']} client, "
                    f"{'one connection' if connection == 'same' else 'a new connection each'}"
                    f"; {SANDBOX_NOTE}")
            if extra := notes.get((command, connection)):
                note += f"; {extra}"
            baselines = {STDLIB: theirs["p50_ms"], DOCKER: docker_p50}
            if unsandboxed is not None:
                baselines[UNSANDBOXED] = _series(unsandboxed, command, connection)["p50_ms"]
            figures.append(Figure(
                SECTION, f"{name}-p50", ours["p50_ms"], "ms", False, baselines,
                "<= 1.2x stdlib-threaded; <= 0.05x docker-exec", note))
            figures.append(Figure(SECTION, f"{name}-p99", ours["p99_ms"], "ms", False,
                                  {STDLIB: theirs["p99_ms"]}, None, note))
    return figures


def stream_figure(mode: str, netlab: dict[str, Any], stdlib: dict[str, Any],
                  how: str) -> Figure:
    ours, theirs = netlab["stream"], stdlib["stream"]
    size = ours["bytes"]
    label = size_label(size)
    note = (f"head -c {size} /dev/zero, best of {ours['runs']} (medians "
            f"{ours['median_mb_per_s']:.0f} vs {theirs['median_mb_per_s']:.0f} MB/s), {how}; "
            f"MB = 10^6 bytes; {SANDBOX_NOTE}")
    return Figure(SECTION, f"{mode}-stream-{label}", ours["mb_per_s"], "MB/s", True,
                  {STDLIB: theirs["mb_per_s"]}, ">= 2x stdlib-threaded", note)


def blocking_notes(netlab: dict[str, Any], stdlib: dict[str, Any]) -> dict[tuple[str, str], str]:
    """The blocking client's p50s, for the notes of the library's figures."""
    notes = {}
    for series in netlab.get("latency", []):
        key = (series["command"], series["connection"])
        theirs = _series(stdlib, *key)
        notes[key] = (f"blocking client p50: netlab {series['p50_ms']:.2f} ms, "
                      f"stdlib {theirs['p50_ms']:.2f} ms")
    return notes


def joined(latency: dict[str, Any], stream: dict[str, Any]) -> dict[str, Any]:
    """A latency-only and a streaming-only load's results as one load's."""
    return {**latency, "stream": stream["stream"],
            "complete": bool(latency.get("complete") and stream.get("complete"))}


async def measure(ctx: BenchContext, sizes: Sizes) -> dict[str, dict[str, Any]]:
    """Every load against netlab's exec and the baselines, each started for the section.

    Latency and streaming run as loads of their own, so that a profile of
    netlab's server (``--profile``) is of one kind of work:
    ``framed-latency``, ``framed-stream-SIZE``, ``classic-latency``,
    ``classic-stream-SIZE``.
    """
    env = {"NETLAB_EXEC_TOKEN": ctx.token}
    stdlib_argv = ["python", "-m", "lab.bench.baselines.threaded_exec", "--port", str(PORT)]
    unsandboxed_argv = ["netlab", "exec", "serve", "--host", "0.0.0.0", "--port", str(PORT),
                        "--sandbox-uids", "off"]
    timeout = sizes.deadline + 60
    results: dict[str, dict[str, Any]] = {}

    async def load(argv: list[str], profile: str | None, **extra: Any) -> dict[str, Any]:
        if profile is None:
            return await ctx.load(argv, timeout=timeout, **extra)
        async with ctx.profiling(SECTION, profile, "exec"):
            return await ctx.load(argv, timeout=timeout, **extra)

    async with ctx.baseline(FRAMED_BASELINE, [*stdlib_argv, "--mode", "framed"], port=PORT,
                            env=env) as framed_host, \
            ctx.baseline(CLASSIC_BASELINE, [*stdlib_argv, "--mode", "classic"],
                         port=PORT) as classic_host, \
            ctx.baseline(UNSANDBOXED_HOST, unsandboxed_argv, port=PORT, env=env) as bare_host:
        for key, host, port in (("netlab", NETLAB_HOST, NETLAB_PORT),
                                ("stdlib", framed_host, PORT)):
            ours = key == "netlab"
            results[f"{key}-library"] = await load(
                load_argv(host, port, "framed", sizes), "framed-latency" if ours else None,
                env=env)
            latency = await load(load_argv(host, port, "framed", sizes, client="blocking",
                                           latency=("same",)), None, env=env)
            stream = await load(
                load_argv(host, port, "framed", sizes, client="blocking", latency=(),
                          stream=sizes.framed_stream),
                f"framed-stream-{size_label(sizes.framed_stream)}" if ours else None, env=env)
            results[f"{key}-blocking"] = joined(latency, stream)
        for key, host, port in (("netlab", NETLAB_HOST, NETLAB_PORT),
                                ("stdlib", classic_host, PORT)):
            ours = key == "netlab"
            latency = await load(load_argv(host, port, "classic", sizes),
                                 "classic-latency" if ours else None)
            stream = await load(
                load_argv(host, port, "classic", sizes, latency=(), stream=sizes.classic_stream),
                f"classic-stream-{size_label(sizes.classic_stream)}" if ours else None)
            results[f"{key}-classic"] = joined(latency, stream)
        results["unsandboxed-library"] = await load(
            load_argv(bare_host, PORT, "framed", sizes), None, env=env)
        results["unsandboxed-classic"] = await load(
            load_argv(bare_host, PORT, "classic", sizes), None)
    for what, result in results.items():
        _complete(result, what)
    return results


async def run(ctx: BenchContext) -> list[Figure]:
    """Measure netlab's exec and its baselines; the section's figures."""
    sizes = QUICK if ctx.quick else FULL
    results = await measure(ctx, sizes)
    docker_times, how = await trio.to_thread.run_sync(
        docker_exec_times, ctx.service("exec"), sizes.docker_runs)
    docker_p50 = statistics.median(docker_times) * 1e3
    notes = blocking_notes(results["netlab-blocking"], results["stdlib-blocking"])
    notes[("true", "same")] += (f"; docker-exec: {how}, {len(docker_times)} runs on netlab's exec"
                                f" container, p99 {percentile(docker_times, 0.99) * 1e3:.1f} ms")
    figures = latency_figures("framed", results["netlab-library"], results["stdlib-library"],
                              docker_p50, notes, results["unsandboxed-library"])
    figures += latency_figures("classic", results["netlab-classic"], results["stdlib-classic"],
                               docker_p50, {}, results["unsandboxed-classic"])
    figures.append(stream_figure("framed", results["netlab-blocking"], results["stdlib-blocking"],
                                 "blocking framed client"))
    figures.append(stream_figure("classic", results["netlab-classic"], results["stdlib-classic"],
                                 "the tutorial's client"))
    return figures
