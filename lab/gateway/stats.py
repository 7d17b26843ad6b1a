"""The gateway's counters: the runtime's, plus one entry per route and its fault proxy.

Served as JSON on the gateway's stats port like every server's counters; the
``routes`` entry says, per route name, how many client connections are open
(from accept to close, upstream connect included), how many are relayed
through the proxy right now, and how many toxics are active, so the harness
can check that the gateway is back to its baseline after a scenario.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.runtime.counters import Counters

RouteFigures = Callable[[], dict[str, dict[str, int]]]


def no_routes() -> dict[str, dict[str, int]]:
    return {}


@dataclass
class GatewayCounters(Counters):
    """:class:`Counters` whose snapshot adds ``routes``, as ``route_figures`` reports them."""

    route_figures: RouteFigures = field(default=no_routes, repr=False)

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        snapshot["routes"] = self.route_figures()
        return snapshot
