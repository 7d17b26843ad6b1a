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

from services.runtime.counters import Counters, Figure

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


# -- the declarations docs/reference/stats.md is made from ---------------------------------
# (see services.runtime.counters; tests/test_stats_declared.py checks them against the code)

ROUTES = (
    Figure("open", "client connections of the route open now, from accept to close (the "
           "upstream connect included)", kind="gauge"),
    Figure("relayed", "connections of the route relayed through its fault proxy now",
           kind="gauge"),
    Figure("toxics", "toxics active on the route's fault proxy now", kind="gauge"),
)
"""The figures of each route under ``routes`` (a key the gateway's snapshot adds)."""

EXTRA = (
    Figure("{route}.connections", "connections relayed to the route's upstream"),
    Figure("{route}.unreachable", "connections closed because the upstream could not be "
           "reached within `--connect-timeout`"),
    Figure("{route}.refused", "connections refused because the route relayed `--max-clients` "
           "already"),
    Figure("{route}.ended-by-toxic", "relays a fault proxy's toxic ended (reset, timeout...)"),
)
"""``{route}`` is a route's name: its fault proxy's (``chat``, ``exec``, ``upload`` in the lab)."""

ERROR_REASONS = (
    Figure("upstream-unreachable", "a relay whose upstream could not be reached"),
    Figure("{side}-reset", "a relay ended by a reset of one side", values=("client", "upstream")),
    Figure("{side}-send-timeout", "a relay ended because one side did not read its bytes within "
           "`--send-timeout`", values=("client", "upstream")),
)
