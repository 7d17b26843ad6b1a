"""Peer faults: misbehaving clients, run as ``lab rogue`` in a container of their own.

``apply`` starts ``lab rogue --service S --host H --port P --behaviour B
--count N --hold SECONDS`` (:mod:`lab.rogue`) in a labelled container on the
lab network and returns at once: ``count`` connections to the service of
``target.service`` each misbehave for up to ``hold`` seconds. ``revert``
finds the container again by its labels, closes its stdin (the rogue's
signal to stop), waits for it (bounded, then kills it), adds the ops it
printed to the run's history (when the context records ops, as
:class:`lab.faults.context.LabContext` does) and removes it.

``via``: ``direct`` connects to the service itself; ``gateway`` goes through
the gateway's route (and its fault proxy).

Resource handling: the rogue's container carries the lab's labels and
``org.netlab.fault=<fault key>``; the stack's teardown removes it if a
revert never ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import trio

from lab.containers import Launch, find_labelled, finish_detached, start_detached
from lab.errors import FaultError
from lab.faults.base import Family, Fault, FaultContext, register
from lab.faults.naming import fault_key
from lab.history import Op

SERVICES = ("chat", "exec", "upload")
GATEWAY_PORTS = {"chat": 8000, "exec": 8001, "upload": 8002}
SERVICE_PORT = 8000
STOP_WAIT = 15.0  # after stdin EOF; within base.REVERT_TIMEOUT


def rogue_ops(lines: Iterable[str]) -> list[Op]:
    """The op lines among a rogue's stdout (anything else is skipped)."""
    ops = []
    for line in lines:
        try:
            ops.append(Op.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return ops


@dataclass(frozen=True, kw_only=True)
class PeerFault(Fault):
    """``count`` rogue connections to ``target.service`` doing ``behaviour`` for ``hold`` s."""

    family: ClassVar[Family] = "peer"
    behaviour: ClassVar[str]

    count: int = 1
    hold: float = 5.0
    via: str = "direct"

    def __post_init__(self) -> None:
        if self.target.service not in SERVICES:
            raise ValueError(f"a peer fault needs target.service, one of {SERVICES}")
        if self.count < 1 or self.hold < 0:
            raise ValueError("count must be at least 1 and hold not negative")
        if self.via not in ("direct", "gateway"):
            raise ValueError("via is 'direct' or 'gateway'")

    def argv(self) -> list[str]:
        service = self.target.service
        assert service is not None
        host, port = ((service, SERVICE_PORT) if self.via == "direct"
                      else ("gateway", GATEWAY_PORTS[service]))
        return ["lab", "rogue", "--service", service, "--host", host, "--port", str(port),
                "--behaviour", self.behaviour, "--count", str(self.count),
                "--hold", str(self.hold)]

    def _labels(self) -> dict[str, str]:
        return {"fault": fault_key(self)}

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        launch = Launch(role="rogue", labels=self._labels())
        container = await start_detached(ctx, self.argv(), launch=launch)
        return {"container": container.name, "behaviour": self.behaviour,
                "count": self.count}

    async def revert(self, ctx: FaultContext) -> None:
        wanted = ctx.labels(role="rogue", **self._labels())
        containers = await trio.to_thread.run_sync(find_labelled, ctx.docker, wanted)
        for container in containers:
            end = await finish_detached(ctx.docker, container, wait=STOP_WAIT)
            ctx.record(rogue_ops(end.stdout))
            if end.status not in (0, 137) and not end.stdout:
                raise FaultError(f"lab rogue ({self.behaviour}) failed with status "
                                 f"{end.status}: {end.stderr.strip()[-500:]}")


@register
@dataclass(frozen=True, kw_only=True)
class PeerFin(PeerFault):
    """Rogue clients that close normally (FIN) in the middle of an exchange."""

    kind: ClassVar[str] = "peer-fin"
    behaviour: ClassVar[str] = "fin"
    expected: ClassVar[str] = (
        "The server reads EOF, ends that session as a normal close and frees what it held; "
        "no error is logged as a crash and the other clients do not notice.")
    concept: ClassVar[str] = (
        "recv() returning b'' is the peer's FIN: the end of its data, to be handled as a "
        "normal end, not as an error and not in a busy loop.")


@register
@dataclass(frozen=True, kw_only=True)
class PeerRst(PeerFault):
    """Rogue clients that reset their connection (SO_LINGER 0) in the middle of an exchange."""

    kind: ClassVar[str] = "peer-rst"
    behaviour: ClassVar[str] = "rst"
    expected: ClassVar[str] = (
        "The server gets a connection reset on those connections only: it counts it, frees "
        "the connection and its tasks (an exec command is killed, an upload's partial kept "
        "for a resume) and keeps serving everyone else.")
    concept: ClassVar[str] = (
        "A reset is an ordinary event on a network: catch ConnectionResetError per "
        "connection; it must never end the server or another client's session.")


@register
@dataclass(frozen=True, kw_only=True)
class PeerHalfClose(PeerFault):
    """Rogue clients that send a request, then ``shutdown(SHUT_WR)``, and keep reading."""

    kind: ClassVar[str] = "peer-half-close"
    behaviour: ClassVar[str] = "half-close"
    expected: ClassVar[str] = (
        "The server still answers what was asked before the FIN (an exec command runs and "
        "its output and status arrive), then closes its own side; nothing is cut short.")
    concept: ClassVar[str] = (
        "A TCP connection is two streams: a FIN ends one direction only. shutdown(SHUT_WR) "
        "says 'no more requests' while the answer can still flow back.")


@register
@dataclass(frozen=True, kw_only=True)
class PeerStopReading(PeerFault):
    """Rogue clients that keep the connection but never read what the server sends."""

    kind: ClassVar[str] = "peer-stop-reading"
    behaviour: ClassVar[str] = "stop-reading"
    expected: ClassVar[str] = (
        "What the server holds for that client stays bounded: it drops the slow consumer "
        "(or stops reading from it) while every other client keeps receiving on time.")
    concept: ClassVar[str] = (
        "A peer that does not read makes send() block once the socket buffers fill; one "
        "stuck client must not stall a server's other clients (per-client queues, send "
        "timeouts).")


@register
@dataclass(frozen=True, kw_only=True)
class PeerSlowloris(PeerFault):
    """Rogue clients that trickle a request a byte at a time and never finish it."""

    kind: ClassVar[str] = "peer-slowloris"
    behaviour: ClassVar[str] = "slowloris"
    expected: ClassVar[str] = (
        "The server's handshake deadline closes those connections (exec and upload "
        "--handshake-timeout; chat's limits); they hold no more than their slots meanwhile "
        "and other clients are served at once.")
    concept: ClassVar[str] = (
        "Put a deadline on a whole request, not only on each read: a client sending one "
        "byte now and then must not hold a connection slot forever.")


@register
@dataclass(frozen=True, kw_only=True)
class PeerGarbage(PeerFault):
    """Rogue clients that send bytes that are not the service's protocol."""

    kind: ClassVar[str] = "peer-garbage"
    behaviour: ClassVar[str] = "garbage"
    expected: ClassVar[str] = (
        "The server answers with an explicit protocol error (or closes) on those connections "
        "only and counts it; other clients and later connections are unaffected.")
    concept: ClassVar[str] = (
        "Everything from the network is untrusted input: a parser meeting nonsense rejects "
        "it with an error instead of crashing or guessing.")


@register
@dataclass(frozen=True, kw_only=True)
class PeerOversized(PeerFault):
    """Rogue clients that send a line or frame larger than the service allows."""

    kind: ClassVar[str] = "peer-oversized"
    behaviour: ClassVar[str] = "oversized"
    expected: ClassVar[str] = (
        "The server refuses the frame at its size limit without reading it all into memory "
        "(line too long, frame too large), on that connection only; its memory stays "
        "bounded.")
    concept: ClassVar[str] = (
        "Bound every buffer: a length prefix or a line from the network is checked against "
        "a limit before anything is allocated for it.")
