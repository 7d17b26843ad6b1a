"""A lab the scenarios run in: a stack (netlab's servers or the broken twins), its fault
context, and the in-container programs (fleets, probes) the runner starts.

``with LabSession.start(target="netlab") as lab:`` starts its own stack on
fresh loopback ports (so it never collides with a lab already running on
8000-8002/8474) and tears it down at the end; ``LabSession.attach(project)``
uses a stack that is already running (``scripts/start-lab``'s ``netlab``)
and leaves it running.

Resource handling: a started session owns its stack (``Stack`` tears it down
by label, also when start-up fails); every container a probe, fleet or fault
creates carries the stack's project label, so the teardown removes it too.
Error handling: a stack that does not start raises ``lab.errors.StackError``
with the services' logs; a probe that fails returns what it could not see as
``null`` (the invariants that need it say "unknown").
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.containers import run_to_end
from lab.faults.context import LabContext
from lab.results import RunTarget
from lab.stack import ROOT, Stack

TWINS_OVERRIDE = ROOT / "lab" / "twins" / "compose.twins.yaml"
SERVICES = ("chat", "exec", "upload")
SERVICE_PORT = 8000  # every server listens on 8000 in its container
STATS_PORT = 9000
PROBE_TIMEOUT = 90.0
PORT_SETTINGS = ("NETLAB_CHAT_PORT", "NETLAB_EXEC_PORT", "NETLAB_UPLOAD_PORT",
                 "NETLAB_PROXY_PORT")


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (the kernel picks them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def stack_for(target: RunTarget, *, project: str | None = None) -> Stack:
    """A stack (not started) of ``target`` on fresh host ports."""
    env = dict(zip(PORT_SETTINGS, map(str, free_loopback_ports(len(PORT_SETTINGS))),
                   strict=True))
    extra: tuple[Path, ...] = (TWINS_OVERRIDE,) if target == "twins" else ()
    if project is None:
        return Stack(env=env, extra_files=extra)
    return Stack(project=project, env=env, extra_files=extra)


@dataclass
class LabSession:
    """A running lab of ``target`` and the fault context over it."""

    stack: Stack
    target: RunTarget
    exec_token: str = "netlab-lab"

    def __post_init__(self) -> None:
        self.context = LabContext(self.stack)

    @classmethod
    @contextmanager
    def start(cls, *, target: RunTarget = "netlab") -> Iterator[LabSession]:
        """Start a stack of ``target`` for the block; always torn down."""
        with stack_for(target) as stack:
            yield cls(stack, target)

    @classmethod
    @contextmanager
    def attach(cls, project: str, *, target: RunTarget = "netlab") -> Iterator[LabSession]:
        """Use the running compose project ``project`` (left running)."""
        stack = Stack(project=project)
        try:
            stack.container("gateway")  # fails early, with the project's name, if it is not up
            yield cls(stack, target)
        finally:
            stack.client.close()

    def probe_argv(self, services: tuple[str, ...], *, settle: float,
                   baseline: dict[str, Any] | None = None) -> list[str]:
        argv = ["lab", "probe", "--token", self.exec_token, "--settle", f"{settle:g}",
                "--stats", f"gateway=gateway:{STATS_PORT}"]
        for service in services:
            argv += [f"--{service}", f"{service}:{SERVICE_PORT}",
                     "--stats", f"{service}={service}:{STATS_PORT}"]
        stats = (baseline or {}).get("stats") or {}
        for service, counters in sorted(stats.items()):
            if isinstance(counters, dict) and isinstance(counters.get("connections_open"), int):
                argv += ["--baseline", f"{service}={counters['connections_open']}"]
        return argv

    async def probe(self, services: tuple[str, ...], *, settle: float = 0.0,
                    baseline: dict[str, Any] | None = None) -> dict[str, Any]:
        """``lab probe`` in a container of the lab network: are new clients served, the
        counters (see :mod:`lab.probe`), waiting up to ``settle`` seconds for the open
        connections to come back to ``baseline`` (an earlier probe's result). A probe
        that fails is reported in ``error``."""
        argv = self.probe_argv(services, settle=settle, baseline=baseline)
        end = await run_to_end(self.context, argv, timeout=PROBE_TIMEOUT)
        text = "\n".join(end.stdout).strip()
        try:
            found: dict[str, Any] = json.loads(text) if text else {}
        except json.JSONDecodeError:
            found = {}
        if end.status != 0 or not found:
            found.setdefault("serves", {})
            found.setdefault("stats", {})
            found["error"] = f"lab probe exited {end.status}: {end.stderr.strip()[-500:]}"
        return found
