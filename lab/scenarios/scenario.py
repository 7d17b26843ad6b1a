"""What a scenario is: a name, what it teaches, and how one seed becomes its :class:`Plan`.

A :class:`Scenario` is code; a :class:`~lab.schedule.Plan` is data. The
scenario's ``build`` draws everything random (message counts, which client a
fault targets, when it fires, the proxy's seed) from one ``random.Random``
seeded with the scenario's name and the run's seed, so a seed always gives the
same plan; the plan is saved with the run and ``lab replay`` runs the plan,
not the scenario, again.

The invariants checked are those of the services the fleets use, plus the
``all.*`` ones and the scenario's ``also`` (``chat.cutoff`` and
``upload.resume`` hold only where the scenario cuts clients off or makes
them resume: elsewhere they would have nothing to check, which reads
"unknown", never "pass").
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.fleet.spec import FleetSpec
from lab.schedule import Plan, ScheduledFault

INVARIANTS_OF = {
    "chat": ("chat.delivery", "chat.order"),
    "exec": ("exec.at-most-once", "exec.intact", "exec.no-leftovers"),
    "upload": ("upload.complete-or-absent",),
}
COMMON_INVARIANTS = ("all.serves-new-clients", "all.counters-baseline")
SETTLE = 2.0  # seconds after the fleets end before the last probe reads the counters
CUTOFF_MARGIN = 3.0  # seconds a cut-off client may take beyond its liveness bound


@dataclass(frozen=True)
class Workload:
    """What ``build`` returns: the fleets and the fault schedule."""

    fleets: Sequence[FleetSpec]
    faults: Sequence[ScheduledFault] = ()


Build = Callable[[random.Random, int], Workload]


@dataclass(frozen=True)
class Scenario:
    """A named scenario: ``summary`` for the list, ``family`` of its faults, ``build``."""

    name: str
    summary: str
    family: str
    build: Build
    also: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def rng(self, seed: int) -> random.Random:
        return random.Random(f"{self.name}:{seed}")

    def plan(self, seed: int) -> Plan:
        """The plan of this scenario for ``seed`` (the same seed, the same plan)."""
        rng = self.rng(seed)
        workload = self.build(rng, seed)
        services = sorted({kind for spec in workload.fleets for kind in spec.kinds()})
        invariants = tuple(
            name for service in services for name in INVARIANTS_OF[service]
        ) + self.also + COMMON_INVARIANTS
        liveness = max((spec.chat.liveness for spec in workload.fleets if spec.chat), default=0.0)
        settings = {
            "invariants": list(invariants),
            "services": services,
            "settle": SETTLE,
            "proxy_seed": rng.getrandbits(32),
            # A client cut off learns it within two liveness periods (no line, then
            # no answer to its probe), plus scheduling slack.
            "timeouts": {"chat_cutoff": 2 * liveness + CUTOFF_MARGIN},
            **self.settings,
        }
        return Plan(scenario=self.name, seed=seed,
                    fleets=tuple(spec.to_json() for spec in workload.fleets),
                    faults=tuple(workload.faults), settings=settings)
