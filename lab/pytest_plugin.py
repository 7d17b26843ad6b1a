"""netlab's pytest plugin (entry point ``pytest11``): a lab, fleets and faults as fixtures.

An integration test across the containers in about ten lines::

    from lab.faults.base import Target
    from lab.faults.stream import Latency
    from lab.fleet.spec import ChatSpec, FleetSpec

    async def test_chat_survives_latency(netlab):
        slow = Latency(target=Target(service="chat"), stream="both", latency=100, jitter=50)
        async with netlab.fault(slow):
            await netlab.fleet(FleetSpec(name="talkers", chat=ChatSpec(clients=3, messages=10)))
        verdicts = await netlab.check("chat.delivery", "chat.order", "all.serves-new-clients")
        assert [v.status for v in verdicts] == ["pass"] * 3, verdicts

Fixtures:

``netlab_session``
    (session scope) a running lab: started once on free loopback ports and torn
    down at the end, or the running compose project given with
    ``--netlab-project`` (left running). ``--netlab-target twins`` runs the
    broken twins instead of netlab's servers.
``netlab``
    (per test) a :class:`LabRun` on that lab with a fresh history: ``fleet(spec)``
    runs a fleet to its end in a container of the lab network, ``fault(f)`` is
    an async context manager applying a fault for its block (reverted in
    ``finally``), ``check(*invariants)`` probes the servers and checks the
    history, ``proxy`` is the control API's client. The fault proxies are reset
    (no toxic) before each test.

Tests using them need pytest-trio (``trio_mode = true``, or ``@pytest.mark.trio``).
Nothing starts unless a test asks for one of these fixtures.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.containers import run_fleet
from lab.faults.base import Fault, applied
from lab.fleet.spec import FleetSpec
from lab.history import History, Op
from lab.invariants import Verdict, check_all
from lab.observe import observe
from lab.proxy.client import ProxyClient
from lab.results import TARGETS, RunTarget
from lab.scenarios.session import LabSession

SETTLE = 2.0
ALL_SERVICES = ("chat", "exec", "upload")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netlab", "netlab lab harness")
    group.addoption("--netlab-project", default=None,
                    help="Run the netlab fixtures on this running compose project.")
    group.addoption("--netlab-target", default="netlab", choices=TARGETS,
                    help="netlab's servers (default) or the broken twins.")


@pytest.fixture(scope="session")
def netlab_session(request: pytest.FixtureRequest) -> Iterator[LabSession]:
    """A running lab for the whole test session (see the module's docstring)."""
    project = request.config.getoption("--netlab-project")
    target: RunTarget = request.config.getoption("--netlab-target")
    opening = (LabSession.attach(project, target=target) if project
               else LabSession.start(target=target))
    with opening as session:
        yield session


@dataclass
class LabRun:
    """One test's use of the lab: its history, its fleets, its faults, its checks."""

    session: LabSession
    history: History = field(default_factory=History)
    fleets: dict[str, int] = field(default_factory=dict)  # fleet name -> exit status
    services: set[str] = field(default_factory=set)
    baseline: dict[str, Any] = field(default_factory=dict)  # the probe before the test

    def __post_init__(self) -> None:
        self.started = time.time()
        self.context = self.session.context
        self.context.history = self.history
        self.context.peers.clear()

    @property
    def proxy(self) -> ProxyClient:
        """The gateway's fault-proxy control API (``lab.proxy.client``)."""
        return self.context.proxy_client()

    async def fleet(self, spec: FleetSpec) -> list[Op]:
        """Run ``spec`` to its end in a container; its ops (also added to the history)."""
        self.services.update(spec.kinds())
        ops: list[Op] = []
        async with run_fleet(self.context, spec.name, json.dumps(spec.to_json())) as program:
            async for line in program.lines:
                op = Op.from_json(json.loads(line))
                ops.append(op)
                self.history.append(op)
                self.context.note_connects([op])
            self.fleets[spec.name] = (await program.wait()).status
        return ops

    @asynccontextmanager
    async def fault(self, fault: Fault) -> AsyncIterator[dict[str, Any]]:
        """Apply ``fault`` for the block; reverted in ``finally`` (both recorded)."""
        async with applied(fault, self.context, self.history) as details:
            yield details

    async def check(self, *invariants: str) -> list[Verdict]:
        """Probe and observe the servers, then the verdicts of ``invariants``."""
        services = tuple(sorted(self.services))
        observations: dict[str, Any] = {"services": list(services),
                                        "timeouts": {"chat_cutoff": 15.0},
                                        "probe_before": self.baseline}
        observations["probe_after"] = await self.session.probe(services, settle=SETTLE)
        observations.update(await observe(self.context, since=self.started, services=tuple(
            s for s in services if s in ("exec", "upload"))))
        return check_all(invariants, self.history.sorted(), observations)


@pytest.fixture
async def netlab(netlab_session: LabSession) -> LabRun:
    """A fresh :class:`LabRun` on the session's lab (fault proxies reset first, then
    the servers probed for the counters' baseline)."""
    await netlab_session.context.proxy_client().reset()
    return LabRun(netlab_session, baseline=await netlab_session.probe(ALL_SERVICES))
