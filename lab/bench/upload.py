"""The upload section of ``lab bench``: netlab's upload server against iperf3 and the tutorial's.

Baselines, each in its own container on the lab network, measured in the
same run: ``iperf3`` (one TCP stream: the network's ceiling), the tutorial's
blocking upload server reading 1 KiB per ``recv`` (``tutorial-1KiB``) and the
same reading 256 KiB (``blocking-256KiB``), see
:mod:`lab.bench.baselines.tutorial_upload`. Loads run from client
containers (:mod:`lab.bench.upload_load`), straight to netlab's upload
server (``upload:8000``, not through the gateway's fault proxy).

Figures (MB/s, higher is better; each the best of ``rounds``):

* ``netlab-1GiB``: one verified netlab-mode upload (SHA-256 hashed while
  sent, checked by the server, fsynced, renamed, STORED);
* ``netlab-8x128MiB``: eight at once, a connection each;
* ``classic-1KiB`` / ``classic-256KiB``: the tutorial's client sending 1 KiB
  / 256 KiB per ``sendall`` to netlab's classic mode.

Storage: netlab writes to its volume (``/data/uploads``), the baseline to its
container's ``/tmp``: both on Docker's disk, through the page cache. The
baseline neither hashes nor fsyncs. The netlab server's stored ``bench-*``
files are deleted before each load (its quota is 1 GiB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trio

from lab.bench.context import BenchContext
from lab.bench.figures import Figure
from lab.errors import BenchError

SECTION = "upload"
MiB = 1 << 20
GiB = 1 << 30
IPERF_PORT = 5201
BASELINE_PORT = 9000
UPLOAD = ("upload", 8000)  # netlab's server, straight (not through the gateway)
IPERF3, TUTORIAL, BLOCKING = "iperf3", "tutorial-1KiB", "blocking-256KiB"
UPLOAD_ROOT = "/data/uploads"  # the upload server's volume (compose.yaml)


@dataclass(frozen=True)
class Sizes:
    """How much each load moves, and how many rounds each figure takes the best of."""

    one: int  # the single netlab-mode file
    each: int  # each of the concurrent files
    files: int  # how many at once
    classic: int  # a classic upload
    iperf_seconds: int
    rounds: int
    timeout: float  # each load's bound


FULL = Sizes(one=GiB, each=128 * MiB, files=8, classic=GiB, iperf_seconds=5, rounds=3,
             timeout=300.0)
QUICK = Sizes(one=48 * MiB, each=8 * MiB, files=4, classic=32 * MiB, iperf_seconds=1,
              rounds=1, timeout=60.0)


def size_label(size: int) -> str:
    return f"{size // GiB}GiB" if size % GiB == 0 else f"{size // MiB}MiB"


def upload_argv(mode: str, host: str, port: int, *, size: int, files: int = 1,
                prefix: str, timeout: float, extra: Sequence[str] = ()) -> list[str]:
    return ["lab", "bench-load", "upload", mode, "--host", host, "--port", str(port),
            "--size", str(size), "--files", str(files), "--prefix", prefix,
            "--timeout", f"{timeout:g}", *extra]


class Best:
    """The best MB/s of each load over the rounds (and the loads' last results)."""

    def __init__(self) -> None:
        self.rates: dict[str, float] = {}
        self.results: dict[str, dict[str, Any]] = {}

    def add(self, key: str, result: dict[str, Any]) -> None:
        rate = float(result["mb_per_s"])
        if rate > self.rates.get(key, 0.0):
            self.rates[key] = rate
        self.results[key] = result


async def clear_netlab(ctx: BenchContext) -> None:
    """Delete the bench's files from netlab's upload volume (the quota would refuse more)."""
    container = ctx.service("upload")
    result = await trio.to_thread.run_sync(
        lambda: container.exec_run(["sh", "-c", f"rm -f {UPLOAD_ROOT}/bench-*"]))
    if result.exit_code != 0:
        raise BenchError(f"could not clear {UPLOAD_ROOT} in the upload container: "
                         f"{result.output!r}")


async def run(ctx: BenchContext) -> list[Figure]:
    """Measure every upload figure with its baselines, best of the rounds."""
    sizes = QUICK if ctx.quick else FULL
    best = Best()
    tutorial = ["python", "-m", "lab.bench.baselines.tutorial_upload",
                "--port", str(BASELINE_PORT)]
    async with ctx.baseline(IPERF3, ["iperf3", "-s", "-p", str(IPERF_PORT)],
                            port=IPERF_PORT) as iperf_host, \
            ctx.baseline(TUTORIAL, tutorial, port=BASELINE_PORT) as tutorial_host, \
            ctx.baseline(BLOCKING, [*tutorial, "--read-size", str(256 * 1024)],
                         port=BASELINE_PORT) as blocking_host:
        for _ in range(sizes.rounds):
            await measure_round(ctx, sizes, best, iperf_host, tutorial_host, blocking_host)
    return figures(sizes, best)


async def measure_round(ctx: BenchContext, sizes: Sizes, best: Best, iperf_host: str,
                        tutorial_host: str, blocking_host: str) -> None:
    """One run of every load: the baselines first, then netlab's server."""
    bound = sizes.timeout + 60
    best.add("iperf3", await ctx.load(
        ["lab", "bench-load", "upload", "iperf3", "--host", iperf_host,
         "--port", str(IPERF_PORT), "--seconds", str(sizes.iperf_seconds)], timeout=bound))
    host, port = UPLOAD
    loads: list[tuple[str, list[str], bool]] = [
        ("tutorial-1KiB", upload_argv("classic", tutorial_host, BASELINE_PORT,
                                      size=sizes.classic, prefix="bench-1k",
                                      timeout=sizes.timeout, extra=["--chunk", "1024"]), False),
        ("blocking-one", upload_argv("classic", blocking_host, BASELINE_PORT, size=sizes.one,
                                     prefix="bench-one", timeout=sizes.timeout,
                                     extra=["--chunk", str(256 * 1024)]), False),
        ("blocking-many", upload_argv("classic", blocking_host, BASELINE_PORT,
                                      size=sizes.each, files=sizes.files, prefix="bench-many",
                                      timeout=sizes.timeout,
                                      extra=["--chunk", str(256 * 1024)]), False),
        ("blocking-256KiB", upload_argv("classic", blocking_host, BASELINE_PORT,
                                        size=sizes.classic, prefix="bench-256k",
                                        timeout=sizes.timeout,
                                        extra=["--chunk", str(256 * 1024)]), False),
        ("netlab-one", upload_argv("netlab", host, port, size=sizes.one, prefix="bench-one",
                                   timeout=sizes.timeout), True),
        ("netlab-many", upload_argv("netlab", host, port, size=sizes.each, files=sizes.files,
                                    prefix="bench-many", timeout=sizes.timeout), True),
        ("classic-1KiB", upload_argv("classic", host, port, size=sizes.classic,
                                     prefix="bench-1k", timeout=sizes.timeout,
                                     extra=["--chunk", "1024"]), True),
        ("classic-256KiB", upload_argv("classic", host, port, size=sizes.classic,
                                       prefix="bench-256k", timeout=sizes.timeout,
                                       extra=["--chunk", str(256 * 1024)]), True),
    ]
    for key, argv, on_netlab in loads:
        if not on_netlab:
            best.add(key, await ctx.load(argv, timeout=bound))
            continue
        await clear_netlab(ctx)
        async with ctx.profiling(SECTION, figure_name(key, sizes), "upload"):
            best.add(key, await ctx.load(argv, timeout=bound))
    await clear_netlab(ctx)


def figure_name(key: str, sizes: Sizes) -> str:
    """The figure a load of netlab's server gives (``netlab-one`` -> ``netlab-1GiB``)."""
    names = {"netlab-one": f"netlab-{size_label(sizes.one)}",
             "netlab-many": f"netlab-{sizes.files}x{size_label(sizes.each)}"}
    return names.get(key, key)


def figures(sizes: Sizes, best: Best) -> list[Figure]:
    """The section's figures from the best rates."""
    r = best.rates
    rounds = f"best of {sizes.rounds}" if sizes.rounds > 1 else "one run"
    one, each, classic = size_label(sizes.one), size_label(sizes.each), size_label(sizes.classic)
    one_name, many_name = figure_name("netlab-one", sizes), figure_name("netlab-many", sizes)
    iperf = f"iperf3: one stream for {sizes.iperf_seconds} s"
    verified = ("netlab mode through netlab's client library, SHA-256 hashed while sent and "
                "checked by the server, fsynced, renamed, STORED")
    blocking = "blocking-256KiB: the tutorial's server reading 256 KiB per recv, no hash, no fsync"
    return [
        Figure(SECTION, one_name, r["netlab-one"], "MB/s", True,
               {IPERF3: r["iperf3"], BLOCKING: r["blocking-one"]},
               ">= 0.5x iperf3; >= 0.7x blocking-256KiB",
               f"one {one} file, {verified}; {blocking}, same file; {iperf}; {rounds}"),
        Figure(SECTION, many_name, r["netlab-many"], "MB/s", True,
               {IPERF3: r["iperf3"], BLOCKING: r["blocking-many"]},
               ">= 0.5x iperf3; >= 0.7x blocking-256KiB",
               f"{sizes.files} files of {each} at once, a connection each, {verified}; "
               f"{blocking}, the same {sizes.files} files at once; {iperf}; {rounds}"),
        Figure(SECTION, "classic-1KiB", r["classic-1KiB"], "MB/s", True,
               {TUTORIAL: r["tutorial-1KiB"]},
               f">= 1.0x {TUTORIAL}",
               f"the tutorial's client sending one {classic} file 1 KiB per sendall to "
               f"netlab's classic mode (fsynced, renamed, 'true'); {TUTORIAL}: the tutorial's "
               f"server (recv 1024, no fsync); {rounds}"),
        Figure(SECTION, "classic-256KiB", r["classic-256KiB"], "MB/s", True,
               {BLOCKING: r["blocking-256KiB"], IPERF3: r["iperf3"]},
               f">= 1.0x {BLOCKING}",
               f"the tutorial's client sending one {classic} file 256 KiB per sendall to "
               f"netlab's classic mode; {blocking}, same client; {iperf}; {rounds}"),
    ]
