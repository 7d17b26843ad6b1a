"""``lab bench-load scale``: thousands of idle chat connections held, then one client's round trips.

1. Open ``--idle`` connections to the server, ``CONNECTING`` at a time. They
   stay silent: for netlab, clients in the lobby whose mode is not known
   yet; for the baselines, clients that have not given a nickname. Neither
   is sent anything by the active clients below.
2. Print ``{"event": "holding", ...}`` on stdout and hold them until stdin
   closes (the host reads the server's memory meanwhile), at most ``--hold``
   seconds.
3. With them still open, two active clients greet the server (netlab: a
   room of their own, ``/join bench``; the baselines: a nickname) and pass a
   barrier; client A sends ``--rate`` pings a second for ``--seconds``,
   client B echoes each, and A records each round trip (ping sent to echo
   received, through the server both ways).
4. Print one JSON object (see :func:`run_scale`), close everything.

Every step is bounded: connecting, holding, the barrier, the pings and the
drain each have a time limit.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from collections.abc import Awaitable, Callable
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
    resolve,
)
from lab.bench.chat_lines import ECHO, PING, Dialect, Inbox, echo, percentiles, ping

ROOM = "bench"
BARRIER_TIMEOUT = 30.0
DRAIN = 5.0
Hold = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class ScaleLoad:
    """How many idle connections, and the active client's pings."""

    host: str
    port: int
    dialect: Dialect
    idle: int = 10_000
    rate: float = 50.0  # pings a second
    seconds: float = 10.0
    hold: float = 120.0  # longest wait for the host's go

    def __post_init__(self) -> None:
        if self.idle < 0 or self.rate <= 0 or self.seconds <= 0:
            raise ValueError("idle must be >= 0, rate and seconds > 0")


def still_quiet(streams: list[trio.SocketStream]) -> int:
    """How many of ``streams`` have nothing to read (no data, no EOF, no reset) right now."""
    poller = select.poll()
    for stream in streams:
        poller.register(stream.socket.fileno(), select.POLLIN)
    return len(streams) - len(poller.poll(0))


async def _echo(client: LoadClient) -> None:
    """Client B: answer each ping with its echo."""
    feed, send_all = client.inbox.feed, client.stream.send_all
    try:
        while data := await client.stream.receive_some(65536):
            lines = feed(data, time.monotonic_ns())
            answers = [echo(int(seq), int(sent)) for seq, sent in PING.findall(lines)]
            if answers:
                await send_all(b"".join(answers))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        client.ended = "reset"
        return
    client.ended = "eof"


async def _collect(client: LoadClient, rtts_us: list[int], seen: set[int]) -> None:
    """Client A: keep each echo's round trip."""
    feed = client.inbox.feed
    try:
        while data := await client.stream.receive_some(65536):
            now = time.monotonic_ns()
            for seq, sent in ECHO.findall(feed(data, now)):
                if int(seq) not in seen:
                    seen.add(int(seq))
                    rtts_us.append((now - int(sent)) // 1000)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        client.ended = "reset"
        return
    client.ended = "eof"


async def _pings(client: LoadClient, load: ScaleLoad, start: float) -> None:
    for seq in range(round(load.rate * load.seconds)):
        await trio.sleep_until(start + seq / load.rate)
        await client.stream.send_all(ping(seq, time.monotonic_ns()))
        client.sent = seq + 1


async def _active(address: str, load: ScaleLoad) -> dict[str, Any]:
    hello = [load.dialect.hello(f"active{i}", ROOM if load.dialect is not Dialect.NICK else None)
             for i in range(2)]
    streams = await connect(address, load.port, 2, hello=hello)
    pinger, echoer = clients_of(streams, [Inbox(i, 2) for i in range(2)])
    rtts: list[int] = []
    seen: set[int] = set()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_collect, pinger, rtts, seen)
            nursery.start_soon(_echo, echoer)
            barrier_s = await barrier([pinger, echoer], BARRIER_TIMEOUT)
            await trio.sleep(0.2)
            with trio.move_on_after(load.seconds + DRAIN):
                await _pings(pinger, load, trio.current_time() + 0.05)
            with trio.move_on_after(DRAIN):
                while len(seen) < pinger.sent and not pinger.ended:  # noqa: ASYNC110
                    await trio.sleep(0.02)
            nursery.cancel_scope.cancel()
    finally:
        await close_all(streams)
    return {"pings": pinger.sent, "echoes": len(seen), "lost": pinger.sent - len(seen),
            "rtt_ms": percentiles(rtts), "barrier_s": round(barrier_s, 3),
            "active_ended": sorted({c.ended for c in (pinger, echoer) if c.ended})}


async def run_scale(load: ScaleLoad, hold: Hold) -> dict[str, Any]:
    """Run ``load``; ``hold(state)`` is awaited while the idle connections are held."""
    address = await resolve(load.host, load.port)
    started = trio.current_time()
    idle = await connect(address, load.port, load.idle)
    connect_s = trio.current_time() - started
    try:
        holding = {"event": "holding", "idle": len(idle), "connect_s": round(connect_s, 2)}
        held_at = trio.current_time()
        await hold(holding)
        held_s = trio.current_time() - held_at
        active = await _active(address, load)
        quiet = still_quiet(idle)
    finally:
        await close_all(idle)
    return {"server": load.host, "dialect": load.dialect.value, "idle": len(idle),
            "idle_quiet_at_end": quiet, "connect_s": round(connect_s, 2),
            "held_s": round(held_s, 2), **active,
            "load": asdict(load) | {"dialect": load.dialect.value}}


def hold_until_stdin_closes(limit: float) -> Hold:
    """Print the state as a JSON line, then wait for EOF on stdin (at most ``limit`` s)."""

    async def hold(state: dict[str, Any]) -> None:
        print(json.dumps(state), flush=True)
        stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
        async with stdin:
            with trio.move_on_after(limit):
                while await stdin.receive_some(4096):
                    pass

    return hold


@click.command("scale")
@click.option("--host", required=True, help="The chat server's name on the lab network.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default="netlab",
              show_default=True, help="How the active clients greet the server.")
@click.option("--idle", type=click.IntRange(0, 30_000), default=10_000, show_default=True,
              help="Idle connections to hold.")
@click.option("--rate", type=click.FloatRange(0.1, 1000), default=50.0, show_default=True,
              help="Pings a second from the active client.")
@click.option("--seconds", type=click.FloatRange(0.1, 300), default=10.0, show_default=True)
@click.option("--hold", type=click.FloatRange(0, 600), default=120.0, show_default=True,
              help="Longest wait, idle connections held, for stdin to close.")
def cli(host: str, port: int, dialect: str, idle: int, rate: float, seconds: float,
        hold: float) -> None:
    """Idle connections held, then an active client's round trips (JSON lines on stdout)."""
    load = ScaleLoad(host=host, port=port, dialect=Dialect(dialect), idle=idle, rate=rate,
                     seconds=seconds, hold=hold)
    try:
        result = trio.run(run_scale, load, hold_until_stdin_closes(hold))
    except LoadError as exc:
        click.echo(f"scale load: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result))
