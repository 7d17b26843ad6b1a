"""``lab bench chat``: netlab's chat against a threaded and an asyncio broadcast chat.

The servers: the lab's own chat server (``chat:8000``, as learners run it,
clients in netlab mode) and two baselines in containers of their own
(:mod:`lab.bench.baselines.threaded_chat`, ``asyncio_chat``: clients give a
nickname first). Against each, two loads of ``lab bench-load chat``
(:mod:`lab.bench.chat_load`) from a client container:

* paced: 100 clients in one room, 10 messages a second each, for 10 s
  (``--quick``: 20 clients, 3 s): latency p50/p99, lost and reordered lines;
* saturation: 100 clients (quick: 50) each sending as fast as the server
  relays for 10 s (quick: 3 s): deliveries a second, lost, reordered.

Figures: ``saturation`` (deliveries/s), ``p99-100x10`` and ``p50-100x10``
(ms; the load's size is in the name even when ``--quick`` shrinks it, the
notes say what ran). Lost and reordered lines are in the notes of each figure:
a goal asks for none.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from lab.bench.context import BenchContext
from lab.bench.figures import Figure

SECTION = "chat"
NETLAB_HOST, NETLAB_PORT = "chat", 8000
BASELINE_PORT = 9000
BASELINES = {"threaded": "threaded_chat", "asyncio": "asyncio_chat"}


@dataclass(frozen=True)
class Sizes:
    """The loads of one run."""

    paced_clients: int
    paced_rate: float
    paced_seconds: float
    flood_clients: int
    flood_seconds: float
    flood_checking: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(20, 10.0, 3.0, 50, 3.0, 5)
        return cls(100, 10.0, 10.0, 100, 10.0, 10)


def load_argv(host: str, port: int, dialect: str, *, clients: int, rate: float,
              seconds: float, check: int | None = None) -> list[str]:
    argv = ["lab", "bench-load", "chat", "--host", host, "--port", str(port),
            "--dialect", dialect, "--clients", str(clients), "--rate", f"{rate:g}",
            "--seconds", f"{seconds:g}"]
    if check is not None:
        argv += ["--check", str(check)]
    return argv


async def measure(ctx: BenchContext, host: str, port: int, dialect: str,
                  sizes: Sizes) -> dict[str, dict[str, Any]]:
    """Both loads against one server: ``{"paced": result, "flood": result}``.

    netlab's own server is profiled under each (``--profile``): ``p99-100x10``
    (the paced load, both latency figures) and ``saturation``.
    """
    profiled = host == NETLAB_HOST
    async with ctx.profiling(SECTION, "p99-100x10", "chat") if profiled else nullcontext():
        paced = await ctx.load(load_argv(host, port, dialect, clients=sizes.paced_clients,
                                         rate=sizes.paced_rate, seconds=sizes.paced_seconds))
    async with ctx.profiling(SECTION, "saturation", "chat") if profiled else nullcontext():
        flood = await ctx.load(load_argv(host, port, dialect, clients=sizes.flood_clients,
                                         rate=0, seconds=sizes.flood_seconds,
                                         check=sizes.flood_checking))
    return {"paced": paced, "flood": flood}


async def run(ctx: BenchContext) -> list[Figure]:
    sizes = Sizes.of(ctx.quick)
    results = {"netlab": await measure(ctx, NETLAB_HOST, NETLAB_PORT, "netlab", sizes)}
    for name, module in BASELINES.items():
        argv = ["python", "-m", f"lab.bench.baselines.{module}", "--port", str(BASELINE_PORT)]
        async with ctx.baseline(f"{name}-chat", argv, port=BASELINE_PORT) as host:
            results[name] = await measure(ctx, host, BASELINE_PORT, "nick", sizes)
    return figures(results, sizes)


def _faults(result: dict[str, Any]) -> str:
    text = f"{result['lost']} lost, {result['reordered']} reordered"
    if result.get("disconnected_clients"):
        text += f", {result['disconnected_clients']} clients disconnected"
    return text


def figures(results: dict[str, dict[str, dict[str, Any]]], sizes: Sizes) -> list[Figure]:
    """The section's figures from each server's two load results (netlab first)."""
    baselines = [name for name in results if name != "netlab"]
    netlab = results["netlab"]

    def of(load: str, pick: Any) -> dict[str, float]:
        return {name: float(pick(results[name][load])) for name in baselines}

    flood_notes = "; ".join(f"{name}: {_faults(results[name]['flood'])}" for name in results)
    paced_notes = "; ".join(
        f"{name}: {_faults(r['paced'])}, {r['paced']['deliveries_per_s']:,.0f} deliveries/s"
        for name, r in results.items())
    paced_load = (f"{sizes.paced_clients} clients in one room x {sizes.paced_rate:g} msg/s "
                  f"for {sizes.paced_seconds:g} s, every line checked; latency = send to "
                  "receive, the send time carried in the message")
    return [
        Figure(SECTION, "saturation", float(netlab["flood"]["deliveries_per_s"]),
               "deliveries/s", True, of("flood", lambda r: r["deliveries_per_s"]),
               ">= 4x threaded, with 0 lost and 0 reordered",
               f"{sizes.flood_clients} clients in one room, each sending as fast as the server "
               f"relays (at most 64 of its lines in flight) for {sizes.flood_seconds:g} s; "
               f"every line counted, order checked on {sizes.flood_checking} clients. "
               f"{flood_notes}"),
        Figure(SECTION, "p99-100x10", float(netlab["paced"]["latency_ms"]["p99"]), "ms", False,
               of("paced", lambda r: r["latency_ms"]["p99"]),
               "<= the better baseline's", f"{paced_load}. {paced_notes}"),
        Figure(SECTION, "p50-100x10", float(netlab["paced"]["latency_ms"]["p50"]), "ms", False,
               of("paced", lambda r: r["latency_ms"]["p50"]), None, paced_load),
    ]
