"""Stream faults: one toxic of the gateway's fault proxy, on one route, for a while.

Each fault here is one toxic kind of :mod:`lab.proxy.toxics` on the proxy
of the route named by ``target.service`` (``chat``, ``exec``, ``upload``:
the gateway names each route's proxy after its upstream). ``apply`` POSTs
the toxic through the control API; ``revert`` DELETEs it (a toxic already
gone is fine). Every connection of the route is hit, new ones included,
unless ``target.client`` or ``target.connection`` narrows it to one: the
client's address (from the history's ``ok connect``) is looked up among
the proxy's open connections and the toxic added for that connection's id.

Only clients that go through the gateway (fleet host ``gateway``) meet
these faults; clients connected to a service directly never do.

The toxic's name is derived from the fault itself (kind and a digest of its
settings and target), so ``revert`` needs nothing kept from ``apply``; two
identical faults at the same time are refused by the proxy (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from lab.errors import FaultError
from lab.faults.base import Family, Fault, FaultContext, register
from lab.faults.naming import fault_key
from lab.proxy.client import ControlError

ROUTES = ("chat", "exec", "upload")
STREAMS = ("upstream", "downstream", "both")


@dataclass(frozen=True, kw_only=True)
class StreamFault(Fault):
    """A toxic on one route's proxy; ``stream``: ``upstream`` (client to server),
    ``downstream`` (server to client) or ``both``; ``toxicity``: the share of
    connections it hits (seeded by the proxy)."""

    family: ClassVar[Family] = "stream"
    toxic: ClassVar[str]

    stream: str = "downstream"
    toxicity: float = 1.0

    def __post_init__(self) -> None:
        if self.target.service not in ROUTES:
            raise ValueError(f"a stream fault needs target.service, one of {ROUTES}")
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}")
        if not 0.0 <= self.toxicity <= 1.0:
            raise ValueError("toxicity must be between 0 and 1")

    @property
    def proxy(self) -> str:
        assert self.target.service is not None
        return self.target.service

    @property
    def toxic_name(self) -> str:
        return f"lab-{fault_key(self)}"

    def attributes(self) -> dict[str, Any]:
        return {k: v for k, v in self.settings().items() if k not in ("stream", "toxicity")}

    async def connection_id(self, ctx: FaultContext) -> tuple[int | None, str | None]:
        """The proxied connection this fault is narrowed to (id and peer), or ``(None, None)``."""
        peer = self.target.connection
        if peer is None and self.target.client is not None:
            peer = ctx.peer_of(self.target.client)
            if peer is None:
                raise FaultError(f"client {self.target.client} has not connected yet")
        if peer is None:
            return None, None
        for conn in await ctx.proxy_request("GET", f"/proxies/{self.proxy}/connections"):
            if conn.get("peer") == peer:
                return int(conn["id"]), peer
        raise FaultError(f"no open connection from {peer} on the {self.proxy} proxy")

    async def apply(self, ctx: FaultContext) -> dict[str, Any]:
        connection, peer = await self.connection_id(ctx)
        await ctx.proxy_request("POST", f"/proxies/{self.proxy}/toxics", {
            "name": self.toxic_name, "type": self.toxic, "stream": self.stream,
            "toxicity": self.toxicity, "connection": connection,
            "attributes": self.attributes()})
        return {"proxy": self.proxy, "toxic": self.toxic_name, "connection": connection,
                "peer": peer}

    async def revert(self, ctx: FaultContext) -> None:
        try:
            await ctx.proxy_request("DELETE", f"/proxies/{self.proxy}/toxics/{self.toxic_name}")
        except ControlError as exc:
            if exc.status != 404:
                raise


@register
@dataclass(frozen=True, kw_only=True)
class Latency(StreamFault):
    """Each chunk waits ``latency`` ± ``jitter`` ms."""

    kind: ClassVar[str] = "latency"
    toxic: ClassVar[str] = "latency"
    expected: ClassVar[str] = (
        "Every operation still completes, later: chat lines arrive whole and in order, exec "
        "output and status are intact, uploads store the declared SHA-256. Only a timeout "
        "shorter than the added delay fires, and the operation is then reported as unknown, "
        "not as failed.")
    concept: ClassVar[str] = (
        "TCP hides delay from the data but not from the clock: a timeout is a guess about a "
        "slow peer. Choose it above the worst latency you accept, and treat its expiry as "
        "'outcome unknown'.")
    latency: float = 200
    jitter: float = 0


@register
@dataclass(frozen=True, kw_only=True)
class Bandwidth(StreamFault):
    """At most ``rate`` bytes per second."""

    kind: ClassVar[str] = "bandwidth"
    toxic: ClassVar[str] = "bandwidth"
    expected: ClassVar[str] = (
        "Transfers slow down to the rate; nothing is lost, duplicated or reordered. A server "
        "may drop a client that stays below its minimum rate (upload --min-rate), with an "
        "explicit error, and its memory stays bounded.")
    concept: ClassVar[str] = (
        "Back-pressure: send() blocks while the peer reads slowly. A server must bound what "
        "it queues for each client instead of buffering without limit.")
    rate: int = 20_000


@register
@dataclass(frozen=True, kw_only=True)
class Slicer(StreamFault):
    """Chunks cut into ``average_size`` ± ``size_variation`` bytes, ``delay`` ms apart."""

    kind: ClassVar[str] = "slicer"
    toxic: ClassVar[str] = "slicer"
    expected: ClassVar[str] = (
        "Every message is still read whole: a chat line split over many recv() calls is "
        "delivered once, intact (no garbled line); exec and upload frames are reassembled.")
    concept: ClassVar[str] = (
        "TCP is a byte stream: one send() is not one recv(). Frame messages (a newline, a "
        "length prefix) and buffer until a frame is complete.")
    average_size: int = 3
    size_variation: int = 2
    delay: float = 1


@register
@dataclass(frozen=True, kw_only=True)
class Coalescer(StreamFault):
    """Chunks arriving within ``window`` ms go on as one."""

    kind: ClassVar[str] = "coalescer"
    toxic: ClassVar[str] = "coalescer"
    expected: ClassVar[str] = (
        "Messages glued into one chunk are all parsed: two chat lines in one recv() are two "
        "messages, none lost; frames that follow a request in the same chunk are kept.")
    concept: ClassVar[str] = (
        "The other half of framing: one recv() can hold several messages and the start of "
        "the next. Parse in a loop and keep the rest for later.")
    window: float = 50


@register
@dataclass(frozen=True, kw_only=True)
class Blackhole(StreamFault):
    """Data (and the FIN) swallowed; the connection closed after ``timeout`` ms (0: never)."""

    kind: ClassVar[str] = "blackhole"
    toxic: ClassVar[str] = "timeout"
    expected: ClassVar[str] = (
        "The connection goes silent without closing. Each side learns it only from its own "
        "timers (chat liveness, exec and upload deadlines) and reports the operations in "
        "flight as unknown, never as done; the servers free the connection and serve new "
        "clients once the fault is gone.")
    concept: ClassVar[str] = (
        "Silence is not a close: without a timeout or a heartbeat, a program can wait "
        "forever on a connection whose peer is gone.")
    timeout: float = 0


@register
@dataclass(frozen=True, kw_only=True)
class ResetPeer(StreamFault):
    """Both sides reset (RST) ``timeout`` ms after the toxic meets a connection."""

    kind: ClassVar[str] = "reset-peer"
    toxic: ClassVar[str] = "reset_peer"
    expected: ClassVar[str] = (
        "Both ends get a connection reset: clients report the connection lost and the "
        "operations in flight as unknown; the servers drop the connection and its tasks "
        "(counters back to baseline); a client that reconnects carries on, an upload resumes "
        "from what was stored.")
    concept: ClassVar[str] = (
        "A reset throws away the data in flight: what you sent may not have arrived. Only an "
        "acknowledgement from the application says it did.")
    timeout: float = 0


@register
@dataclass(frozen=True, kw_only=True)
class LimitData(StreamFault):
    """The connection closed after ``bytes`` bytes in that direction."""

    kind: ClassVar[str] = "limit-data"
    toxic: ClassVar[str] = "limit_data"
    expected: ClassVar[str] = (
        "The connection ends after N bytes: a message cut short is never taken as complete "
        "(no partial chat line delivered, no truncated exec output reported as a success, no "
        "partial upload under its final name).")
    concept: ClassVar[str] = (
        "EOF in the middle of a frame is an error, not the end of a message: check that what "
        "you received is complete before you act on it.")
    bytes: int = 1000


@register
@dataclass(frozen=True, kw_only=True)
class SlowClose(StreamFault):
    """The FIN passed on ``delay`` ms late."""

    kind: ClassVar[str] = "slow-close"
    toxic: ClassVar[str] = "slow_close"
    expected: ClassVar[str] = (
        "The close arrives late: whoever waits for it sees it after the delay; no data is "
        "lost, and the servers' connection counters return to baseline once it has passed.")
    concept: ClassVar[str] = (
        "Closing is a handshake too: a program that waits for the peer's FIN must bound that "
        "wait, and must not count a connection as gone before it is.")
    delay: float = 2000
