"""``lab bench-load chat``: many clients chatting in one room, every delivery accounted for.

``--rate R`` (messages a second per client): each client sends ``R x
SECONDS`` messages at a steady pace (each client at its own phase), and
every client checks every message it receives: deliveries a second,
latency (send to receive, the send time carried in the message), lost and
reordered lines. ``--rate 0`` is saturation: for ``SECONDS`` each client
sends batches of messages as fast as the server relays them (it keeps at
most ``WINDOW`` of its messages in flight: sent, and not yet received by a
witness client; without that bound, "sent" would only mean "in a socket
buffer"); deliveries a second are those received within that time. Every
client counts what it receives (lost lines show); ``--check`` of them also
check the order and the latency (a Python client parsing every line of a
million a second would measure itself, not the server).

Before the clock starts a barrier makes sure every client is registered
(:func:`lab.bench.chat_clients.barrier`); after it, every message is owed
to every other client. After the senders stop, receivers get ``--drain``
seconds to catch up; what is still missing then is lost. A client the
server disconnected (netlab's slow-consumer rule) is reported.

Prints one JSON object (see :func:`run_load`). Bounded: connecting, the
barrier, the run and the drain each have a time limit.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import click
import trio

from lab.bench.chat_clients import (
    LoadClient,
    LoadError,
    barrier,
    clients_of,
    close_all,
    connect,
    nicks,
    resolve,
)
from lab.bench.chat_lines import Dialect, Inbox, message, percentiles

BATCH = 16  # messages per send when flooding
WINDOW = 64  # a flooding client's messages in flight, at most
BARRIER_TIMEOUT = 30.0
SETTLE = 0.3  # after the barrier: its last lines are out of the way


@dataclass(frozen=True)
class ChatLoad:
    """One chat load: who, how many, how fast, how long."""

    host: str
    port: int
    dialect: Dialect
    clients: int = 100
    rate: float = 10.0  # messages a second per client; 0: as fast as the server takes them
    seconds: float = 10.0
    check: int | None = None  # clients checking every line (None: all)
    drain: float = 10.0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.clients < 2:
            raise ValueError("a chat load needs at least 2 clients")
        if self.rate < 0 or self.seconds <= 0:
            raise ValueError("rate must be >= 0 and seconds > 0")

    @property
    def checking(self) -> int:
        """Clients that check every line: all, or ``check`` (at least the 2 witnesses)."""
        return self.clients if self.check is None else max(2, min(self.check, self.clients))


async def _paced(client: LoadClient, load: ChatLoad, start: float) -> None:
    count = round(load.rate * load.seconds)
    phase = (client.index * 0.618034) % 1.0 / load.rate  # spread over one interval
    send_all, index = client.stream.send_all, client.index
    for seq in range(count):
        await trio.sleep_until(start + phase + seq / load.rate)
        await send_all(message(index, seq, time.monotonic_ns()))
        client.sent = seq + 1


class Window:
    """Flow control of flooding senders: at most ``size`` messages in flight each.

    A sender's messages are in flight until its witness (a checking client
    that is not the sender) has received them. A sender over the bound waits
    until the witness's reader (:meth:`wake`, after each read) sees it down
    to half.
    """

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self._waiting: dict[int, tuple[Inbox, int, trio.Event]] = {}

    async def wait(self, sender: int, witness: Inbox, sent: int) -> None:
        while sent - witness.progress(sender) >= self.size:
            event = trio.Event()
            self._waiting[sender] = (witness, sent - self.size // 2, event)
            await event.wait()

    def wake(self) -> None:
        for sender, (witness, target, event) in list(self._waiting.items()):
            if witness.progress(sender) >= target:
                del self._waiting[sender]
                event.set()


async def _flood(client: LoadClient, witness: Inbox, window: Window, end: float) -> None:
    send_all, index = client.stream.send_all, client.index
    seq = 0
    with trio.move_on_at(end):
        while True:
            await window.wait(index, witness, seq)
            if trio.current_time() >= end:
                return
            now = time.monotonic_ns()
            with trio.CancelScope(shield=True):  # a batch is sent whole or not at all
                await send_all(b"".join(message(index, seq + k, now) for k in range(BATCH)))
            seq += BATCH
            client.sent = seq


async def _send(client: LoadClient, load: ChatLoad, start: float,
                witness: Inbox, window: Window) -> None:
    try:
        if load.rate > 0:
            await _paced(client, load, start)
        else:
            await _flood(client, witness, window, start + load.seconds)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        client.ended = client.ended or "reset"


def _owed(clients: list[LoadClient]) -> list[int]:
    total = sum(client.sent for client in clients)
    return [total - client.sent for client in clients]


async def _drain(clients: list[LoadClient], seconds: float) -> float:
    started = trio.current_time()
    with trio.move_on_after(seconds):
        # Polled: the readers update the counts; an event per read would cost more.
        while any(client.inbox.received < owed and not client.ended  # noqa: ASYNC110
                  for client, owed in zip(clients, _owed(clients), strict=True)):
            await trio.sleep(0.05)
    return trio.current_time() - started


async def run_load(load: ChatLoad) -> dict[str, Any]:
    """Run ``load``; its measurements as a JSON-ready dict."""
    address = await resolve(load.host, load.port)
    inboxes = [Inbox(i, load.clients, check=i < load.checking) for i in range(load.clients)]
    streams = await connect(address, load.port, load.clients,
                            hello=nicks(load.dialect, load.clients))
    clients = clients_of(streams, inboxes)
    try:
        async with trio.open_nursery() as readers:
            for client in clients:
                readers.start_soon(client.read)
            barrier_seconds = await barrier(clients, BARRIER_TIMEOUT)
            await trio.sleep(SETTLE)
            start = trio.current_time() + 0.05
            window = Window()
            for watcher in clients[:2]:  # the witnesses (checking clients)
                watcher.after_feed = window.wake
            async with trio.open_nursery() as senders:
                for client in clients:
                    witness = inboxes[1 if client.index == 0 else 0]
                    senders.start_soon(_send, client, load, start, witness, window)
                await trio.sleep_until(start + load.seconds)
                in_window = sum(inbox.received for inbox in inboxes)
                # A sender stuck in a send (a server that stopped reading) is given up.
                senders.cancel_scope.deadline = start + load.seconds + load.drain
            drained = await _drain(clients, load.drain)
            readers.cancel_scope.cancel()
    finally:
        await close_all(streams)
    owed = _owed(clients)
    lost = sum(max(0, o - c.inbox.received) for o, c in zip(owed, clients, strict=True))
    samples = [sample for inbox in inboxes if inbox.check for sample in inbox.latencies_us]
    return {
        "server": load.host, "dialect": load.dialect.value, "clients": load.clients,
        "rate": load.rate, "seconds": load.seconds, "checked_clients": load.checking,
        "sent": sum(c.sent for c in clients), "expected": sum(owed),
        "received": sum(inbox.received for inbox in inboxes), "lost": lost,
        "reordered": sum(inbox.reordered for inbox in inboxes),
        "deliveries_per_s": round(in_window / load.seconds, 1),
        "latency_ms": percentiles(samples), "latency_samples": len(samples),
        "disconnected": sorted({c.ended for c in clients if c.ended}),
        "disconnected_clients": sum(1 for c in clients if c.ended),
        "barrier_s": round(barrier_seconds, 3), "drain_s": round(drained, 3),
        "load": asdict(load) | {"dialect": load.dialect.value},
    }


@click.command("chat")
@click.option("--host", required=True, help="The chat server's name on the lab network.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default="netlab",
              show_default=True, help="netlab: the preface; line: nothing; nick: a first "
                                      "line with the nickname (the baselines).")
@click.option("--clients", type=click.IntRange(2, 5000), default=100, show_default=True)
@click.option("--rate", type=click.FloatRange(0, 1000), default=10.0, show_default=True,
              help="Messages a second per client; 0: as fast as the server takes them.")
@click.option("--seconds", type=click.FloatRange(0.1, 300), default=10.0, show_default=True)
@click.option("--check", type=click.IntRange(0), default=None,
              help="Clients that check every line's order and latency (default: all).")
@click.option("--drain", type=click.FloatRange(0, 120), default=10.0, show_default=True,
              help="Seconds the receivers get to catch up after the senders stop.")
def cli(host: str, port: int, dialect: str, clients: int, rate: float, seconds: float,
        check: int | None, drain: float) -> None:
    """Chat load: deliveries a second, latency, lost and reordered lines (one JSON object)."""
    load = ChatLoad(host=host, port=port, dialect=Dialect(dialect), clients=clients, rate=rate,
                    seconds=seconds, check=check, drain=drain)
    try:
        result = trio.run(run_load, load)
    except LoadError as exc:
        click.echo(f"chat load: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result))
