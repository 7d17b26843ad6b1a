"""A fault proxy: each client relayed to the upstream through toxic chains.

:meth:`Proxy.relay` is one connection's relay: it gets an id, and per
direction a :class:`~lab.proxy.chain.ToxicChain` holding the proxy's toxics
that target it (all connections, or its id). Toxics added or removed while
it is open change its chains, not the connection. The gateway calls it for
each connection of a route (its own listener, limits and counters);
:meth:`Proxy.run` is the proxy on its own: a listener whose connections go
to :meth:`Proxy.relay` the same way. Randomness: the proxy's
``random.Random(seed)`` gives each connection, in arrival order, the seeds
of its two directions' generators; :meth:`Proxy.reset` starts it again.

Resource handling: :meth:`Proxy.relay` owns the nursery of the connection's
toxic timers (cancelled when its relay ends); the two streams belong to the
caller. :meth:`Proxy.run` owns its listener, and :meth:`Proxy._handle` each
of its connections' streams.
Error handling: an unreachable upstream closes the client's connection; a
toxic's ``close``/``reset`` cancels the relay, whose streams the caller then
closes (after a reset, with SO_LINGER 0: an RST); peers' errors end up in
the relay's result, never raised. Requests on the proxy raise
:mod:`lab.errors`' proxy errors.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from functools import partial

import trio

from lab.errors import InvalidAddress, NameTaken, UnknownName
from lab.proxy.address import parse_host_port
from lab.proxy.chain import ToxicChain
from lab.proxy.toxics import Link, Toxic
from lab.relay import RelayResult, relay, reset_on_close
from services.runtime.connection import describe_peer

CONNECT_TIMEOUT = 5.0


@dataclass
class Connection:
    """One relayed client: its id, peer, bytes each way, open time and chains."""

    id: int
    peer: str
    opened: float  # wall-clock time, for people
    scope: trio.CancelScope
    up: ToxicChain | None = None
    down: ToxicChain | None = None
    ended_by: str = ""  # the toxic that closed or reset it

    def chains(self, toxic: Toxic) -> list[ToxicChain]:
        pairs = [(True, self.up), (False, self.down)]
        return [chain for upward, chain in pairs if chain is not None and toxic.applies_to(upward)]

    def end(self, reason: str, *, reset: bool) -> None:
        if not self.ended_by:
            self.ended_by = ("reset:" if reset else "close:") + reason
        self.scope.cancel()

    def describe(self) -> dict[str, object]:
        return {"id": self.id, "peer": self.peer, "opened": self.opened,
                "bytes_up": self.up.sent if self.up else 0,
                "bytes_down": self.down.sent if self.down else 0}


@dataclass
class Proxy:
    """Relays clients to ``upstream`` (``host``, ``port``) through its toxics.

    ``listen`` is where :meth:`run` listens when the proxy runs on its own.
    """

    name: str
    upstream: tuple[str, int]
    listen: tuple[str, int] = ("127.0.0.1", 0)
    seed: int = 0
    idle_timeout: float = math.inf
    toxics: dict[str, Toxic] = field(default_factory=dict)
    connections: dict[int, Connection] = field(default_factory=dict)
    port: int | None = None  # the bound port, once listening

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._next_id = 1

    def add_toxic(self, toxic: Toxic) -> None:
        """Add ``toxic`` to the proxy and to the open connections it targets."""
        if toxic.name in self.toxics:
            raise NameTaken(f"toxic {toxic.name!r} exists on proxy {self.name!r}")
        if toxic.connection is not None and toxic.connection not in self.connections:
            raise UnknownName(f"no open connection {toxic.connection} on proxy {self.name!r}")
        self.toxics[toxic.name] = toxic
        for conn in self.connections.values():
            if toxic.connection in (None, conn.id):
                for chain in conn.chains(toxic):
                    chain.add(toxic)

    def remove_toxic(self, name: str) -> Toxic:
        """Remove a toxic from the proxy and its connections; what they held goes on."""
        toxic = self.toxics.pop(name, None)
        if toxic is None:
            raise UnknownName(f"no toxic {name!r} on proxy {self.name!r}")
        for conn in self.connections.values():
            for chain in (conn.up, conn.down):
                if chain is not None:
                    chain.remove(name)
        return toxic

    def reset(self, seed: int | None = None) -> None:
        """Remove every toxic; with ``seed``, draw the next connections' randomness from it."""
        for name in list(self.toxics):
            self.remove_toxic(name)
        if seed is not None:
            self.seed = seed
            self._rng = random.Random(seed)

    def find(self, peer: str) -> Connection:
        """The open connection whose client is at ``peer`` (``HOST:PORT``)."""
        wanted = parse_host_port(peer, "peer")
        for conn in self.connections.values():
            try:
                if parse_host_port(conn.peer, "peer") == wanted:
                    return conn
            except InvalidAddress:
                continue
        raise UnknownName(f"no open connection from {peer} on proxy {self.name!r}")

    async def relay(
        self,
        client: trio.abc.HalfCloseableStream,
        upstream: trio.abc.HalfCloseableStream,
        *,
        peer: str,
        idle_timeout: float | None = None,
        send_timeout: float = math.inf,
    ) -> RelayResult:
        """Relay one client and its open upstream through the toxics until it ends.

        ``peer`` is the client's ``HOST:PORT`` (how the API finds it);
        ``idle_timeout`` defaults to the proxy's. When a toxic ends the
        connection, the result's reason is ``toxic-close:...`` or
        ``toxic-reset:...`` and its byte counts are those that got past the toxics.
        """
        conn_id, self._next_id = self._next_id, self._next_id + 1
        up_rng = random.Random(self._rng.getrandbits(64))
        down_rng = random.Random(self._rng.getrandbits(64))
        conn = Connection(conn_id, peer, time.time(), trio.CancelScope())
        result: RelayResult | None = None
        async with trio.open_nursery() as timers:

            def link(rng: random.Random) -> Link:
                return Link(rng, trio.Lock(), timers.start_soon,
                            partial(conn.end, reset=False), partial(conn.end, reset=True))

            conn.up, conn.down = ToxicChain(link(up_rng)), ToxicChain(link(down_rng))
            for toxic in self.toxics.values():
                if toxic.connection is None:
                    for chain in conn.chains(toxic):
                        chain.add(toxic)
            self.connections[conn_id] = conn
            try:
                with conn.scope:
                    result = await relay(
                        client, upstream,
                        idle_timeout=self.idle_timeout if idle_timeout is None else idle_timeout,
                        send_timeout=send_timeout,
                        upward=conn.up.pipe, downward=conn.down.pipe,
                        upward_flush=conn.up.flush, downward_flush=conn.down.flush)
            finally:
                del self.connections[conn_id]
                timers.cancel_scope.cancel()
                if conn.ended_by.startswith("reset:"):
                    reset_on_close(client)
                    reset_on_close(upstream)
        if result is None:  # a toxic cancelled the relay
            result = RelayResult(conn.up.sent, conn.down.sent, reason=f"toxic-{conn.ended_by}")
        return result

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``listen`` and relay until cancelled; report the bound port."""
        host, port = self.listen
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio.serve_listeners, self._handle, listeners))
            task_status.started(self.port)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    upstream = await trio.open_tcp_stream(*self.upstream)
            except (OSError, trio.TooSlowError):
                return
            async with upstream:
                await self.relay(client, upstream, peer=describe_peer(client))
