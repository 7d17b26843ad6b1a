"""Lab stacks for the docker tier: fresh host ports, a unique project, the stacks running now."""

from __future__ import annotations

import os
from pathlib import Path

from lab.stack import Stack
from tests.support.ports import free_port

# Stacks up at this moment, so a failing test's report can carry their logs.
RUNNING: list[Stack] = []


def lab_ports() -> dict[str, str]:
    """Fresh loopback ports for the published learner ports and the fault proxy's API."""
    return {f"NETLAB_{name}_PORT": str(free_port())
            for name in ("CHAT", "EXEC", "UPLOAD", "PROXY")}


def extra_compose_files() -> tuple[Path, ...]:
    """Compose overrides to test a change with (``NETLAB_COMPOSE_EXTRA``, ``:``-separated)."""
    spec = os.environ.get("NETLAB_COMPOSE_EXTRA", "")
    return tuple(Path(part) for part in spec.split(os.pathsep) if part)


def new_stack() -> Stack:
    """A lab stack with the clients profile, fresh host ports and a unique project name."""
    return Stack(env=lab_ports(), profiles=("clients",), extra_files=extra_compose_files())


def host_port(stack: Stack, service: str) -> int:
    """The host port publishing ``service`` (through the gateway; ``proxy``: its control API)."""
    return int(stack.env[f"NETLAB_{service.upper()}_PORT"])
