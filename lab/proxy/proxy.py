"""A fault proxy: one listener, each client relayed to the upstream through toxic chains.

Each accepted connection gets an id, an upstream connection and, per
direction, a :class:`~lab.proxy.chain.ToxicChain` holding the proxy's
toxics that target it (all connections, or its id). Toxics added or removed
while it is open change its chains, not the connection. Randomness: the
proxy's ``random.Random(seed)`` gives each connection, in accept order, the
seeds of its two directions' generators.

Resource handling: the listener lives in :meth:`Proxy.run`; each connection's
client and upstream streams are opened and closed in :meth:`Proxy._handle`,
as is the nursery of its toxics' timers (cancelled when its relay ends).
Error handling: an unreachable upstream closes the client's connection; a
toxic's ``close``/``reset`` cancels the relay and closes both streams (reset
first: SO_LINGER 0); peers' errors end up in the relay's result, never
raised. Requests on the proxy raise :mod:`lab.errors`' proxy errors.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from functools import partial

import trio

from lab.errors import NameTaken, UnknownName
from lab.proxy.chain import ToxicChain
from lab.proxy.toxics import Link, Toxic
from lab.relay import relay, reset_on_close

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
    """Relays ``listen`` to ``upstream`` (``host``, ``port``) through its toxics."""

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

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen and relay until cancelled; report the bound port."""
        host, port = self.listen
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(trio.serve_listeners, self._handle, listeners))
            task_status.started(self.port)

    async def _handle(self, client: trio.SocketStream) -> None:
        conn_id, self._next_id = self._next_id, self._next_id + 1
        up_rng = random.Random(self._rng.getrandbits(64))
        down_rng = random.Random(self._rng.getrandbits(64))
        try:
            host, port = client.socket.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "?"
        async with client:
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    upstream = await trio.open_tcp_stream(*self.upstream)
            except (OSError, trio.TooSlowError):
                return
            async with upstream, trio.open_nursery() as timers:
                conn = Connection(conn_id, peer, time.time(), trio.CancelScope())

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
                        await relay(client, upstream, idle_timeout=self.idle_timeout,
                                    upward=conn.up.pipe, downward=conn.down.pipe,
                                    upward_flush=conn.up.flush, downward_flush=conn.down.flush)
                finally:
                    del self.connections[conn_id]
                    timers.cancel_scope.cancel()
                    if conn.ended_by.startswith("reset:"):
                        reset_on_close(client)
                        reset_on_close(upstream)

