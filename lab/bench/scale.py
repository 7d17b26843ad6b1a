"""``lab bench scale``: what an idle chat connection costs, and an active client's round trip
while 10,000 of them are held.

Each server runs in a fresh container of its own, started for this section:
netlab's chat (``netlab chat serve``, its limit on clients raised above the
load, console off), the asyncio and the threaded broadcast chats. For each,
``lab bench-load scale`` (:mod:`lab.bench.scale_load`) in a client
container opens 10,000 silent connections (``--quick``: 1,000) and holds
them; the host waits until the server process holds that many more
descriptors, lets it settle, reads its RSS (:mod:`lab.bench.memory`), then
lets the load go on: two active clients exchange pings and echoes through
the server (50 a second for 10 s; quick: 3 s) with the idle connections
still open.

Figures: ``idle-rss-per-connection`` = (RSS with N idle - RSS before) / N,
KiB; ``active-rtt-p99`` (ms).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import trio

from lab.bench.context import BASELINE_MEMORY, BenchContext
from lab.bench.figures import Figure
from lab.bench.memory import ProcessMemory, per_connection_kib, server_memory, wait_descriptors
from lab.containers import Launch, find_labelled, run_program
from lab.errors import BenchError

SECTION = "scale"
PORT = 9000
SETTLE = 2.0  # after the last accept, before reading RSS
ACCEPT_TIMEOUT = 120.0
HOLD_LIMIT = 300.0  # the load's own bound on waiting for the host


@dataclass(frozen=True)
class Server:
    """A chat server of this section: how to start it, how to find its process, how to greet it."""

    name: str
    argv: tuple[str, ...]
    marker: str  # in its process's command line
    dialect: str


def servers(idle: int) -> list[Server]:
    netlab = Server("netlab", ("netlab", "chat", "serve", "--host", "0.0.0.0", "--port",
                               str(PORT), "--max-clients", str(idle + 100), "--no-console"),
                    "chat serve", "netlab")
    baselines = [Server(name, ("python", "-m", f"lab.bench.baselines.{name}_chat", "--port",
                               str(PORT)), f"{name}_chat", "nick")
                 for name in ("asyncio", "threaded")]
    return [netlab, *baselines]


@dataclass(frozen=True)
class Sizes:
    idle: int
    rate: float
    seconds: float

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        return cls(1_000, 50.0, 3.0) if quick else cls(10_000, 50.0, 10.0)


def load_argv(host: str, dialect: str, sizes: Sizes) -> list[str]:
    return ["lab", "bench-load", "scale", "--host", host, "--port", str(PORT), "--dialect",
            dialect, "--idle", str(sizes.idle), "--rate", f"{sizes.rate:g}", "--seconds",
            f"{sizes.seconds:g}", "--hold", f"{HOLD_LIMIT:g}"]


def _container(ctx: BenchContext, name: str) -> Any:
    found = find_labelled(ctx.place.docker, ctx.place.labels(baseline=name))
    if not found:
        raise BenchError(f"no container for the {name} server")
    return found[0]


def _json(line: str) -> dict[str, Any] | None:
    try:
        found = json.loads(line)
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


async def measure(ctx: BenchContext, server: Server, sizes: Sizes) -> dict[str, Any]:
    """One server: the load's result plus ``before``/``held`` memory readings."""
    name = f"{server.name}-scale"
    async with ctx.baseline(name, list(server.argv), port=PORT) as host:
        container = await trio.to_thread.run_sync(_container, ctx, name)
        before = await server_memory(container, server.marker)
        launch = Launch(role="bench-load", memory=BASELINE_MEMORY)
        argv = load_argv(host, server.dialect, sizes)
        async with run_program(ctx.place, argv, launch=launch, hold_stdin=True) as program:
            lines: list[str] = []
            held: ProcessMemory | None = None
            with trio.move_on_after(HOLD_LIMIT + sizes.seconds + 120) as bound:
                async for line in program.lines:
                    lines.append(line)
                    if held is None and (_json(line) or {}).get("event") == "holding":
                        await wait_descriptors(container, server.marker,
                                               before.fds + sizes.idle, ACCEPT_TIMEOUT)
                        await trio.sleep(SETTLE)
                        held = await server_memory(container, server.marker)
                        await program.close_stdin()
            if bound.cancelled_caught:
                await program.kill()
            end = await program.wait()
    result = _json(lines[-1]) if lines else None
    if end.status != 0 or held is None or result is None or "rtt_ms" not in result:
        raise BenchError(f"scale load against {server.name} exited {end.status}: "
                         f"{end.stderr.strip()[-600:]}")
    return result | {"before": before, "held": held}


async def run(ctx: BenchContext) -> list[Figure]:
    sizes = Sizes.of(ctx.quick)
    results = {server.name: await measure(ctx, server, sizes) for server in servers(sizes.idle)}
    return figures(results, sizes)


def figures(results: dict[str, dict[str, Any]], sizes: Sizes) -> list[Figure]:
    """The section's figures from each server's result (netlab first)."""
    per_conn = {name: per_connection_kib(r["before"], r["held"], r["idle"])
                for name, r in results.items()}
    rtt = {name: float(r["rtt_ms"]["p99"]) for name, r in results.items()}
    baselines = [name for name in results if name != "netlab"]
    memory = "; ".join(
        f"{name}: {r['before'].rss_kib / 1024:.1f} -> {r['held'].rss_kib / 1024:.1f} MiB"
        for name, r in results.items())
    rtts = "; ".join(
        f"{name}: p50 {r['rtt_ms']['p50']:g} ms, {r['lost']} of {r['pings']} lost"
        for name, r in results.items())
    return [
        Figure(SECTION, "idle-rss-per-connection", per_conn["netlab"], "KiB", False,
               {name: per_conn[name] for name in baselines}, "<= asyncio's",
               f"{sizes.idle:,} silent connections held (connected, nothing said); "
               f"RSS of the server process before and with them: {memory}"),
        Figure(SECTION, "active-rtt-p99", rtt["netlab"], "ms", False,
               {name: rtt[name] for name in baselines}, "< 50 ms at 10,000 idle",
               f"one client's pings echoed by a second one through the server "
               f"({sizes.rate:g}/s for {sizes.seconds:g} s), {sizes.idle:,} idle connections "
               f"held; {rtts}"),
    ]
