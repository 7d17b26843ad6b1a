"""Network faults: cut a container off the lab network, firewall a port, cap a bandwidth.

- :class:`Disconnect`: ``docker network disconnect`` of ``target.service``
  (or ``target.fleet``'s container) from the lab network: its interface
  vanishes without a FIN or RST, so the connections through it are left
  half-open on the other side; ``revert`` connects it again under its
  compose aliases (Docker's DNS finds the service again).
- :class:`Drop`: iptables DROP on the service port, ``inbound`` (packets to
  it), ``outbound`` (packets from it) or ``both``.
- :class:`Reject`: iptables REJECT ``--reject-with tcp-reset`` of every
  packet to the service port (and, ``both``, from it, the reset going to
  the server's own socket): new connections are refused, open ones reset.
- :class:`Tbf`: a ``tbf`` qdisc capping what the service sends on the lab
  network to ``rate`` bytes per second.

Rules and qdiscs are set from a short-lived sidecar of the netlab image in
the service's network namespace (``--network container:ID --cap-add
NET_ADMIN --user 0``, labelled, removed afterwards): the services
themselves keep every capability dropped. ``revert`` deletes exactly what
``apply`` added. A container that needs no default route (exec, whose
healthcheck says so) has it removed again after a reconnect.

The kernel here has no ``netem`` qdisc: :func:`netem_available` says so,
and the fault proxy's toxics stand in for delay, jitter and loss.

Error handling: a sidecar that fails raises :class:`lab.errors.FaultError`
with its output.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from lab.containers import Finished, Launch, Placement, run_to_end
from lab.errors import FaultError
from lab.faults.base import Family, Fault, FaultContext, register

SERVERS = ("chat", "exec", "upload", "gateway")
SERVICE_PORT = 8000
DIRECTIONS = ("inbound", "outbound", "both")
SIDECAR_TIMEOUT = 30.0
NO_ROUTE_ENV = "NETLAB_HEALTH_NO_DEFAULT_ROUTE=1"
NETEM_HINT = (
    "use the fault proxy instead: the latency fault (latency, jitter) for delay, "
    "blackhole for loss of everything, limit-data or reset-peer for a cut, bandwidth "
    "or tbf for a rate cap")


def sidecar_launch(container: Any) -> Launch:
    """Root with NET_ADMIN only, in ``container``'s network namespace."""
    return Launch(role="sidecar", network_mode=f"container:{container.id}", user="0",
                  cap_add=("NET_ADMIN",))


async def in_namespace(ctx: Placement, container: Any, script: str, *,
                       check: bool = True) -> Finished:
    """Run ``sh -c script`` in a sidecar sharing ``container``'s network namespace."""
    end = await run_to_end(ctx, ["sh", "-c", script], launch=sidecar_launch(container),
                           timeout=SIDECAR_TIMEOUT)
    if check and not end.ok:
        output = "\n".join(end.stdout) + end.stderr
        raise FaultError(f"sidecar in {container.name} failed (status {end.status}): "
                         f"{output.strip()[-800:]}")
    return end


async def _server(ctx: FaultContext, fault: Fault) -> Any:
    if fault.target.service not in SERVERS:
        raise ValueError(f"{fault.kind} needs target.service, one of {SERVERS}")
    return await trio.to_thread.run_sync(ctx.container, fault.target.service)


def _needs_no_route(container: Any) -> bool:
    return NO_ROUTE_ENV in (container.attrs.get("Config", {}).get("Env") or [])


@register
@dataclass(frozen=True, kw_only=True)
class Disconnect(Fault):
    """Take ``target.service`` (or ``target.fleet``'s container) off the lab network."""

    kind: ClassVar[str] = "disconnect"
    family: ClassVar[Family] = "network"
    expected: ClassVar[str] = (
        "No FIN, no RST: the connections through the cut interface are half-open. Peers "
        "learn it only from their own timeouts (chat liveness, exec and upload deadlines; "
        "netlab's servers and gateway from TCP keepalive, --keepalive, 30 s by default) and "
        "report outcomes as unknown; a client reconnecting meanwhile fails to resolve or "
        "reach the service. After the reconnect, new clients are served and the counters "
        "return to baseline once the timeouts have fired.")
    concept: ClassVar[str] = (
        "Half-open connections: TCP only notices a vanished peer when it sends something. "
        "A silent peer needs application heartbeats or keepalive with a deadline.")

    def __post_init__(self) -> None:
        if self.target.service not in SERVERS and not self.target.fleet:
            raise ValueError(f"disconnect needs target.service (one of {SERVERS}) "
                             "or target.fleet")

    async def _container(self, ctx: FaultContext) -> Any:
        if self.target.fleet:
            return await trio.to_thread.run_sync(ctx.fleet_container, self.target.fleet)
        return await _server(ctx, self)

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        container = await self._container(ctx)
        network = await trio.to_thread.run_sync(ctx.network)
        await trio.to_thread.run_sync(network.disconnect, container)
        return {"container": container.name, "network": network.name}

    async def revert(self, ctx: FaultContext) -> None:
        container = await self._container(ctx)
        network = await trio.to_thread.run_sync(ctx.network)
        if network.name in container.attrs["NetworkSettings"]["Networks"]:
            return
        if container.status not in ("running", "paused"):
            return  # a stopped container gets its network back when it starts
        aliases = [container.name] + ([self.target.service] if self.target.service else [])
        await trio.to_thread.run_sync(lambda: network.connect(container, aliases=aliases))
        if _needs_no_route(container):
            await in_namespace(ctx, container, "ip route del default 2>/dev/null; "
                               "ip -6 route del default 2>/dev/null; true")


@dataclass(frozen=True, kw_only=True)
class _Firewall(Fault):
    """iptables rules on ``port`` of ``target.service``, added and deleted by a sidecar."""

    family: ClassVar[Family] = "network"

    port: int = SERVICE_PORT

    def __post_init__(self) -> None:
        if self.target.service not in SERVERS:
            raise ValueError(f"{self.kind} needs target.service, one of {SERVERS}")
        if not 1 <= self.port <= 65535:
            raise ValueError("port out of range")

    def rules(self) -> list[list[str]]:
        """Each rule as ``[CHAIN, match and target...]``."""
        raise NotImplementedError

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        container = await _server(ctx, self)
        script = " && ".join(shlex.join(["iptables", "-I", *rule]) for rule in self.rules())
        await in_namespace(ctx, container, script)
        return {"container": container.name, "rules": [" ".join(r) for r in self.rules()]}

    async def revert(self, ctx: FaultContext) -> None:
        container = await _server(ctx, self)
        if container.status != "running":
            return  # a stopped container's namespace (and its rules) went with it
        script = "; ".join(f"while {shlex.join(['iptables', '-D', *rule])} 2>/dev/null; "
                           "do :; done" for rule in self.rules())
        await in_namespace(ctx, container, script + "; true")


@register
@dataclass(frozen=True, kw_only=True)
class Drop(_Firewall):
    """iptables DROP on the service port: ``inbound``, ``outbound`` or ``both``."""

    kind: ClassVar[str] = "drop"
    expected: ClassVar[str] = (
        "Packets vanish: connects time out (SYNs dropped) and open connections stall "
        "without an error, in one direction or both. Clients report timeouts and unknown "
        "outcomes; TCP retransmits, so once the rule is gone the connections that survived "
        "their timeouts carry on with no byte lost or reordered.")
    concept: ClassVar[str] = (
        "Loss is invisible to the application: TCP retransmits and only gets slower. A "
        "one-way loss leaves one side sending into the void while the other waits.")

    direction: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}")

    def rules(self) -> list[list[str]]:
        port = str(self.port)
        inbound = ["INPUT", "-p", "tcp", "--dport", port, "-j", "DROP"]
        outbound = ["OUTPUT", "-p", "tcp", "--sport", port, "-j", "DROP"]
        return {"inbound": [inbound], "outbound": [outbound],
                "both": [inbound, outbound]}[self.direction]


@register
@dataclass(frozen=True, kw_only=True)
class Reject(_Firewall):
    """iptables REJECT --reject-with tcp-reset on the service port (resets themselves pass).

    ``inbound``: packets to the port are answered with a reset: a client
    learns at its next packet; the server only when it sends again and the
    client's host answers with a reset of its own. ``both`` (default):
    packets the server sends from the port are refused too, with a reset to
    the server's own socket, so each end learns at its next packet.
    """

    kind: ClassVar[str] = "reject"
    expected: ClassVar[str] = (
        "New connections are refused at once (ConnectionRefusedError); each end of an open "
        "connection is reset when it next sends (ConnectionResetError), so the server ends "
        "that session and its work (a command is killed) and a client reports the outcome "
        "as unknown; a side that only waits learns from its timeouts. Through the gateway "
        "the client's connection is closed. Once the rule is gone, the service is reachable "
        "again at once.")
    concept: ClassVar[str] = (
        "A refused or reset connection fails fast and clearly, unlike a dropped one: report "
        "it at once and retry with a back-off, never hang. A reset only reaches the side it "
        "is sent to: the other one learns nothing until it talks.")

    direction: str = "both"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.direction not in ("inbound", "both"):
            raise ValueError("direction must be 'inbound' or 'both'")

    def rules(self) -> list[list[str]]:
        port = str(self.port)
        # Resets pass: those the rules send (an outbound one reaches the server's socket
        # through INPUT) and a peer's own, so each side learns at its next packet.
        reset = ["!", "--tcp-flags", "RST", "RST", "-j", "REJECT", "--reject-with", "tcp-reset"]
        inbound = ["INPUT", "-p", "tcp", "--dport", port, *reset]
        outbound = ["OUTPUT", "-p", "tcp", "--sport", port, *reset]
        return [inbound, outbound] if self.direction == "both" else [inbound]


def _lab_device_script(ip: str) -> str:
    """Shell that sets ``dev`` to the interface holding ``ip`` (exits 1 without one)."""
    return (f"dev=$(ip -o -4 addr show | awk -v ip={shlex.quote(ip)} "
            "'{split($4, a, \"/\"); if (a[1] == ip) print $2}' | head -n 1); "
            f"[ -n \"$dev\" ] || {{ echo \"no interface with {ip}\" >&2; exit 1; }}; ")


@register
@dataclass(frozen=True, kw_only=True)
class Tbf(Fault):
    """A ``tbf`` qdisc: what ``target.service`` sends on the lab network capped to ``rate`` B/s."""

    kind: ClassVar[str] = "tbf"
    family: ClassVar[Family] = "network"
    expected: ClassVar[str] = (
        "The server's answers slow down to the rate (its egress only); nothing is lost. "
        "Transfers take longer, slow-consumer limits may drop a client with an explicit "
        "error, and the other direction is unaffected.")
    concept: ClassVar[str] = (
        "A bottleneck fills buffers along the path: the sender's send() blocks or its "
        "queue grows, so every queue a program keeps must be bounded.")

    rate: int = 50_000
    burst: int = 16_384
    latency: float = 400  # ms a packet may wait in the queue before it is dropped

    def __post_init__(self) -> None:
        if self.target.service not in SERVERS:
            raise ValueError(f"tbf needs target.service, one of {SERVERS}")
        if self.rate < 1 or self.burst < 1 or self.latency <= 0:
            raise ValueError("rate, burst and latency must be positive")

    async def _lab_ip(self, ctx: FaultContext, container: Any) -> str:
        network = await trio.to_thread.run_sync(ctx.network)
        settings = container.attrs["NetworkSettings"]["Networks"].get(network.name)
        if not settings or not settings.get("IPAddress"):
            raise FaultError(f"{container.name} is not on the lab network")
        return str(settings["IPAddress"])

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        container = await _server(ctx, self)
        ip = await self._lab_ip(ctx, container)
        qdisc = (f"tbf rate {self.rate}bps burst {self.burst} "
                 f"latency {self.latency:g}ms")
        await in_namespace(ctx, container, _lab_device_script(ip)
                           + f"tc qdisc replace dev \"$dev\" root {qdisc} && echo \"$dev\"")
        return {"container": container.name, "qdisc": qdisc}

    async def revert(self, ctx: FaultContext) -> None:
        container = await _server(ctx, self)
        if container.status != "running":
            return
        try:
            ip = await self._lab_ip(ctx, container)
        except FaultError:
            return  # off the network: its interface (and qdisc) is gone
        await in_namespace(ctx, container, _lab_device_script(ip)
                           + "tc qdisc del dev \"$dev\" root 2>/dev/null; true")


async def netem_available(ctx: Placement) -> tuple[bool, str]:
    """Whether the kernel has the ``netem`` qdisc (tried on a sidecar's own loopback).

    Returns ``(False, why and what to use instead)`` where it is missing.
    """
    launch = Launch(role="sidecar", network_mode="none", user="0", cap_add=("NET_ADMIN",))
    end = await run_to_end(ctx, ["sh", "-c", "tc qdisc add dev lo root netem delay 1ms "
                                 "&& tc qdisc del dev lo root"],
                           launch=launch, timeout=SIDECAR_TIMEOUT)
    if end.ok:
        return True, "netem is available: tc qdisc ... netem works in the lab's containers"
    detail = (end.stderr.strip() or "\n".join(end.stdout)).splitlines()
    reason = detail[-1] if detail else f"status {end.status}"
    return False, (f"netem is not available on this machine's kernel ({reason}): "
                   f"network delay, jitter and loss cannot be set with tc; {NETEM_HINT}")
