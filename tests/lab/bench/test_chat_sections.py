"""The chat and scale sections on the host: the loads they ask for, the figures they make."""

from __future__ import annotations

from typing import Any

import click

from lab.bench import chat, scale
from lab.bench.chat_load import cli as chat_cli
from lab.bench.memory import ProcessMemory
from lab.bench.scale_load import cli as scale_cli


def parses(command: click.Command, argv: list[str]) -> dict[str, Any]:
    assert argv[:3] == ["lab", "bench-load", command.name]
    with command.make_context(command.name or "", argv[3:]) as ctx:
        return dict(ctx.params)


def chat_result(*, per_s: float, p50: float, p99: float, lost: int = 0) -> dict[str, Any]:
    return {"deliveries_per_s": per_s, "latency_ms": {"p50": p50, "p99": p99, "max": p99},
            "lost": lost, "reordered": 0, "disconnected_clients": 0}


def test_the_chat_loads_are_valid_commands() -> None:
    sizes = chat.Sizes.of(quick=False)
    params = parses(chat_cli, chat.load_argv("chat", 8000, "netlab", clients=100, rate=0,
                                             seconds=10, check=10))
    assert params["clients"] == 100 and params["rate"] == 0 and params["check"] == 10
    assert (sizes.paced_clients, sizes.paced_rate, sizes.paced_seconds) == (100, 10.0, 10.0)
    quick = chat.Sizes.of(quick=True)
    assert quick.paced_seconds < sizes.paced_seconds and quick.flood_clients <= 100


def test_chat_figures_compare_netlab_with_both_baselines() -> None:
    results = {
        "netlab": {"paced": chat_result(per_s=99_000, p50=2, p99=10),
                   "flood": chat_result(per_s=1_200_000, p50=300, p99=600)},
        "threaded": {"paced": chat_result(per_s=99_000, p50=1, p99=20),
                     "flood": chat_result(per_s=300_000, p50=300, p99=600)},
        "asyncio": {"paced": chat_result(per_s=99_000, p50=3, p99=40, lost=5),
                    "flood": chat_result(per_s=150_000, p50=300, p99=600)},
    }
    figures = {f.name: f for f in chat.figures(results, chat.Sizes.of(quick=False))}
    assert set(figures) == {"saturation", "p99-100x10", "p50-100x10"}
    saturation = figures["saturation"]
    assert saturation.value == 1_200_000 and saturation.ratio("threaded") == 4.0
    assert saturation.higher_is_better and "4x threaded" in (saturation.goal or "")
    p99 = figures["p99-100x10"]
    assert p99.baselines == {"threaded": 20.0, "asyncio": 40.0} and not p99.higher_is_better
    assert "asyncio: 5 lost, 0 reordered" in p99.notes


def test_the_scale_load_is_a_valid_command() -> None:
    sizes = scale.Sizes.of(quick=False)
    params = parses(scale_cli, scale.load_argv("netlab-scale", "netlab", sizes))
    assert params["idle"] == 10_000 and params["port"] == scale.PORT
    assert scale.Sizes.of(quick=True).idle == 1_000


def test_netlab_is_started_with_room_for_the_load() -> None:
    netlab, *baselines = scale.servers(10_000)
    assert netlab.name == "netlab" and "--max-clients" in netlab.argv
    assert int(netlab.argv[netlab.argv.index("--max-clients") + 1]) > 10_000
    assert [b.name for b in baselines] == ["asyncio", "threaded"]
    assert all(b.dialect == "nick" for b in baselines)


def test_scale_figures_share_the_growth_among_the_connections() -> None:
    def result(before: int, after: int, p99: float) -> dict[str, Any]:
        return {"idle": 1000, "before": ProcessMemory(1, before, 10, ""),
                "held": ProcessMemory(1, after, 1010, ""),
                "rtt_ms": {"p50": 1.0, "p99": p99, "max": p99}, "lost": 0, "pings": 500}

    results = {"netlab": result(30_000, 37_000, 4.0), "asyncio": result(20_000, 25_500, 3.0),
               "threaded": result(13_000, 34_000, 8.0)}
    figures = {f.name: f for f in scale.figures(results, scale.Sizes.of(quick=True))}
    memory = figures["idle-rss-per-connection"]
    assert memory.value == 7.0 and memory.baselines == {"asyncio": 5.5, "threaded": 21.0}
    assert not memory.higher_is_better
    assert figures["active-rtt-p99"].baselines == {"asyncio": 3.0, "threaded": 8.0}
