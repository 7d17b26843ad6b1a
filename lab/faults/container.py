"""Container faults: kill a fleet, pause a server, stop one and start it again.

- :class:`KillClient`: SIGKILL the container of the fleet ``target.fleet``
  (every client in it dies at once; the kernel closes their sockets).
- :class:`Pause`: freeze ``target.service`` (cgroup freezer): its sockets
  stay open but nothing answers; ``revert`` thaws it.
- :class:`RestartServer`: SIGTERM ``target.service``, wait for its exit
  (recorded: a graceful drain ends with status 0), stay down ``downtime``
  seconds, start it again and wait until it is healthy.
- :class:`KillServer`: the same with SIGKILL (no drain at all).

A restarted container keeps its id, so whatever shares its network
namespace (``exec-noroute`` beside exec) is restarted after it and joins
the new namespace; exec is healthy again only once that sidecar has removed
its default route. ``revert`` of a restart starts the server again if
``apply`` left it stopped (a failure half way), and waits for it to be
healthy.

Resource handling: Docker calls run in worker threads; every wait is bounded.
Error handling: a server that does not exit or become healthy in time
raises :class:`lab.errors.FaultError` with its state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import docker.errors
import trio

from lab.errors import FaultError
from lab.faults.base import Family, Fault, FaultContext, register

SERVERS = ("chat", "exec", "upload", "gateway")
EXIT_TIMEOUT = 15.0  # exec drains within its 8 s stop grace period
HEALTHY_TIMEOUT = 40.0
POLL = 0.25


def _service(fault: Fault) -> str:
    if fault.target.service not in SERVERS:
        raise ValueError(f"{fault.kind} needs target.service, one of {SERVERS}")
    return fault.target.service


async def _reload(container: Any) -> Any:
    await trio.to_thread.run_sync(container.reload)
    return container


async def wait_exited(container: Any, timeout: float = EXIT_TIMEOUT) -> int:
    """Wait until ``container`` has stopped; its exit status."""
    with trio.move_on_after(timeout):
        while True:  # no event to wait on: Docker's state is polled
            if (await _reload(container)).status in ("exited", "dead"):
                return int(container.attrs["State"]["ExitCode"])
            await trio.sleep(POLL)
    raise FaultError(f"{container.name} still {container.status} after {timeout} s")


async def wait_healthy(container: Any, timeout: float = HEALTHY_TIMEOUT) -> None:
    """Wait until ``container`` runs and its healthcheck (if any) passes."""
    state: dict[str, Any] = {}
    with trio.move_on_after(timeout):
        while True:
            state = (await _reload(container)).attrs["State"]
            health = (state.get("Health") or {}).get("Status")
            if state.get("Running") and health in (None, "healthy"):
                return
            await trio.sleep(POLL)
    raise FaultError(f"{container.name} not healthy after {timeout} s: "
                     f"{state.get('Status')}, health {(state.get('Health') or {}).get('Status')}")


def _sharing_namespace(client: Any, container: Any) -> list[Any]:
    """Containers in ``container``'s network namespace (``network_mode: service:X``)."""
    mode = f"container:{container.id}"
    return [c for c in client.containers.list(all=True)
            if c.attrs.get("HostConfig", {}).get("NetworkMode") == mode]


async def start_again(ctx: FaultContext, container: Any) -> float:
    """Start a stopped server, restart its namespace sharers, wait healthy; seconds taken."""
    started = time.monotonic()
    await trio.to_thread.run_sync(container.start)
    sharers = await trio.to_thread.run_sync(_sharing_namespace, ctx.docker, container)
    for sharer in sharers:
        await trio.to_thread.run_sync(partial(sharer.restart, timeout=2))
    for waited in (container, *sharers):
        await wait_healthy(waited)
    return round(time.monotonic() - started, 3)


@register
@dataclass(frozen=True, kw_only=True)
class KillClient(Fault):
    """SIGKILL the container of the fleet ``target.fleet``."""

    kind: ClassVar[str] = "kill-client"
    family: ClassVar[Family] = "container"
    expected: ClassVar[str] = (
        "The fleet's clients vanish at once; their operations in flight stay unknown. The "
        "servers see their connections end (FIN, or RST where data was unread), free what "
        "they held (an exec command is killed, an upload's partial is kept for a resume) and "
        "keep serving the other fleets: counters return to baseline.")
    concept: ClassVar[str] = (
        "A peer can die at any instant, between any two bytes: a server must never need "
        "the client's cooperation to clean up after it.")

    def __post_init__(self) -> None:
        if not self.target.fleet:
            raise ValueError("kill-client needs target.fleet")

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        assert self.target.fleet is not None
        container = await trio.to_thread.run_sync(ctx.fleet_container, self.target.fleet)
        await trio.to_thread.run_sync(lambda: container.kill(signal="SIGKILL"))
        return {"container": container.name}

    async def revert(self, ctx: FaultContext) -> None:
        return None  # the dead stay dead; the runner sees the fleet's status 137


@register
@dataclass(frozen=True, kw_only=True)
class Pause(Fault):
    """Freeze ``target.service`` (``docker pause``); ``revert`` thaws it."""

    kind: ClassVar[str] = "pause"
    family: ClassVar[Family] = "container"
    expected: ClassVar[str] = (
        "While frozen, the server accepts nothing new and answers nothing, but no connection "
        "is closed: clients wait and their timeouts decide (connect and operation timeouts "
        "fire, outcomes unknown). Once thawed, it carries on with the connections that "
        "remain, and new clients are served.")
    concept: ClassVar[str] = (
        "A stopped process looks exactly like a slow one from the network: only timeouts "
        "tell them apart from a dead one, and none of them is certain.")

    def __post_init__(self) -> None:
        _service(self)

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        container = await trio.to_thread.run_sync(ctx.container, _service(self))
        await trio.to_thread.run_sync(container.pause)
        return {"container": container.name}

    async def revert(self, ctx: FaultContext) -> None:
        container = await trio.to_thread.run_sync(ctx.container, _service(self))
        if container.status == "paused":
            try:
                await trio.to_thread.run_sync(container.unpause)
            except docker.errors.APIError as exc:  # thawed meanwhile
                if "not paused" not in str(exc):
                    raise
        # A healthcheck caught by the freeze reads as a failure until the next one passes.
        await wait_healthy(container)


@dataclass(frozen=True, kw_only=True)
class _StopAndStart(Fault):
    """Signal the server, wait for its exit, ``downtime`` s down, start it, wait healthy."""

    family: ClassVar[Family] = "container"
    signal: ClassVar[str]

    downtime: float = 0.0

    def __post_init__(self) -> None:
        _service(self)
        if self.downtime < 0:
            raise ValueError("downtime must not be negative")

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        container = await trio.to_thread.run_sync(ctx.container, _service(self))
        sent = time.monotonic()
        await trio.to_thread.run_sync(lambda: container.kill(signal=self.signal))
        status = await wait_exited(container)
        stopped = round(time.monotonic() - sent, 3)
        await trio.sleep(self.downtime)
        healthy = await start_again(ctx, container)
        return {"container": container.name, "exit_status": status,
                "seconds_to_exit": stopped, "seconds_to_healthy": healthy}

    async def revert(self, ctx: FaultContext) -> None:
        container = await trio.to_thread.run_sync(ctx.container, _service(self))
        if container.status in ("exited", "dead", "created"):
            await start_again(ctx, container)
        else:
            await wait_healthy(container)


@register
@dataclass(frozen=True, kw_only=True)
class RestartServer(_StopAndStart):
    """SIGTERM ``target.service``, then start it again."""

    kind: ClassVar[str] = "restart-server"
    signal: ClassVar[str] = "SIGTERM"
    expected: ClassVar[str] = (
        "The server drains within its grace period and exits with status 0: commands end "
        "with an exit report, uploads keep their partial data, clients are told or see a "
        "clean close; after the start, new clients are served and an interrupted upload "
        "resumes.")
    concept: ClassVar[str] = (
        "Graceful shutdown: on SIGTERM stop accepting, finish or cut in-flight work "
        "cleanly within a deadline, close connections, and exit 0.")


@register
@dataclass(frozen=True, kw_only=True)
class KillServer(_StopAndStart):
    """SIGKILL ``target.service``, then start it again."""

    kind: ClassVar[str] = "kill-server"
    signal: ClassVar[str] = "SIGKILL"
    expected: ClassVar[str] = (
        "Every connection dies with the process (clients see a reset or EOF, outcomes "
        "unknown); nothing half-written appears under a final name (an upload is complete or "
        "absent); after the start, new clients are served and uploads resume or restart.")
    concept: ClassVar[str] = (
        "Crash safety: write to a temporary name and rename when complete, so that a crash "
        "at any instant leaves either the old state or the new one, never a mix.")
