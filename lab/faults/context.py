"""The running lab as faults see it: a :class:`~lab.faults.base.FaultContext` over a ``Stack``.

:class:`LabContext` finds the services' and fleets' containers, the lab
network and the image; labels what faults create so that the stack's
teardown removes it; talks to the gateway's fault-proxy control API
(``127.0.0.1:${NETLAB_PROXY_PORT:-8474}``, or wherever the gateway
publishes it, token ``${NETLAB_PROXY_TOKEN:-netlab-lab}``); knows each fleet client's address
(``peers``, filled by the runner from ``ok connect`` ops); and records the
ops that faults themselves gather (a rogue peer's) into ``history``.

The same object is the :class:`lab.containers.Placement` that fleets run in.

Resource handling: it owns nothing; the stack's Docker client is used from
worker threads (each method that calls Docker blocks: faults call them
through ``trio.to_thread.run_sync``).
Error handling: a missing container or network raises
:class:`lab.errors.FaultError` (or the stack's ``StackError``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import trio

from lab.containers import FLEET_LABEL
from lab.errors import FaultError, StackError
from lab.history import History, Op
from lab.labels import labels as lab_labels
from lab.proxy.client import ProxyClient
from lab.stack import PROJECT_LABEL, Stack

PROXY_HOST = "127.0.0.1"
PROXY_PORT = 8474
PROXY_TOKEN = "netlab-lab"
CONTROL_PORT = "8474/tcp"  # the control API's port in the gateway container
LAB_NETWORK = "lab"


def _setting(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or os.environ.get(name) or default


@dataclass
class LabContext:
    """Faults' view of one running ``stack``; ``peers`` maps a fleet client to its ``HOST:PORT``."""

    stack: Stack
    peers: dict[str, str] = field(default_factory=dict)
    history: History = field(default_factory=History)
    image_name: str | None = None

    def __post_init__(self) -> None:
        env = self.stack.env
        self.proxy_host = PROXY_HOST
        # The stack's own setting, else (on first use) the gateway's published port.
        port = env.get("NETLAB_PROXY_PORT")
        self.proxy_port: int | None = int(port) if port else None
        self.proxy_token = _setting(env, "NETLAB_PROXY_TOKEN", PROXY_TOKEN)

    def published_proxy_port(self) -> int:
        """The host port of the gateway's control API: its port binding (a project started
        elsewhere), else ``$NETLAB_PROXY_PORT``, else 8474. Blocking."""
        try:
            ports = self.container("gateway").attrs["NetworkSettings"]["Ports"] or {}
        except (StackError, KeyError):
            ports = {}
        for binding in ports.get(CONTROL_PORT) or []:
            if binding.get("HostIp") in ("127.0.0.1", "0.0.0.0", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
        return int(os.environ.get("NETLAB_PROXY_PORT") or PROXY_PORT)

    @property
    def docker(self) -> Any:
        return self.stack.client

    @property
    def image(self) -> str:
        """The image the stack's gateway runs (``NETLAB_IMAGE``), looked up once."""
        if self.image_name is None:
            self.image_name = str(self.container("gateway").attrs["Config"]["Image"])
        return self.image_name

    @property
    def project(self) -> str:
        return self.stack.project

    def container(self, service: str) -> Any:
        return self.stack.container(service)

    def fleet_container(self, fleet: str) -> Any:
        found = self.docker.containers.list(
            all=True, filters={"label": [self.stack.project_label(), f"{FLEET_LABEL}={fleet}"]})
        running = [c for c in found if c.status == "running"]
        if not (running or found):
            raise FaultError(f"no container runs the fleet {fleet!r} in {self.project}")
        return (running or found)[0]

    def network(self) -> Any:
        return self.stack.network(LAB_NETWORK)

    def labels(self, **extra: str) -> dict[str, str]:
        """netlab's labels plus the compose project's, so the stack's teardown finds it."""
        return {**lab_labels(**extra), PROJECT_LABEL: self.project}

    def proxy_client(self) -> ProxyClient:
        """A client of the gateway's control API (its port looked up once: blocking then)."""
        if self.proxy_port is None:
            self.proxy_port = self.published_proxy_port()
        return ProxyClient(self.proxy_host, self.proxy_port, token=self.proxy_token)

    async def proxy_request(self, method: str, path: str, body: Any = None) -> Any:
        if self.proxy_port is None:
            self.proxy_port = await trio.to_thread.run_sync(self.published_proxy_port)
        return await self.proxy_client().request(method, path, body)

    def peer_of(self, client: str) -> str | None:
        return self.peers.get(client)

    def note_connects(self, ops: Iterable[Op]) -> None:
        """Learn each client's address from its ``ok connect`` ops (the latest wins)."""
        for op in ops:
            if op.f == "connect" and op.type == "ok" and isinstance(op.value.get("local"), str):
                self.peers[op.process] = op.value["local"]

    def record(self, ops: Iterable[Op]) -> None:
        """Add ops a fault gathered (a rogue peer's) to the run's history."""
        self.history.extend(ops)
