"""Exercise 7, concurrency: an echo server that serves many clients at once.

The learner's server echoes every byte each client sends (the exercise 1
server). A blocking server serves one client at a time: while it waits in
``recv()`` for one, the others' connections complete in the kernel (their
``connect()`` succeeds) and then wait, unanswered, until that client leaves.

Server checks (netlab is the client): one line echoed; a second client
answered while a first one stays connected and silent; :data:`CLIENTS`
clients connected at once, each sending a line, all answered within
:data:`ALL_WAIT` seconds. The last one's detail is a measurement: the round
trip of each client (p50, p99), and the server's processes, threads and
memory before and while the clients are connected, read from ``/proc``
(PSS where this process may read the server's ``smaps_rollup``: a page
shared by several processes counts once, split among them; else RSS, which
counts a page shared by forked children in each of them).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome

FOLDER = "exercises/07-concurrency"
CLIENTS = 50
ALL_WAIT = 5.0  # generous: a concurrent server answers 50 clients in milliseconds
REPLY_WAIT = 2.0
IDLE_WAIT = 2.0
SETTLE = 0.2  # time for a forking server's children to exist before memory is read


async def _round_trip(ctx: CheckContext, stream: trio.SocketStream, line: bytes,
                      timeout: float) -> float | None:
    """Seconds from sending ``line`` to having it back; None if it did not come back."""
    began = trio.current_time()
    await stream.send_all(line)
    got = await ctx.recv_until(stream, line, timeout)
    return trio.current_time() - began if line in got else None


async def echoes(ctx: CheckContext) -> Outcome:
    line = f"hello {ctx.random.randrange(1000, 9999)}\n".encode()
    async with ctx.server_program(), await ctx.connect() as stream:
        took = await _round_trip(ctx, stream, line, REPLY_WAIT)
    if took is None:
        return Outcome(False, f"sent {line!r}, it did not come back within {REPLY_WAIT:g}s")
    return Outcome(True, f"sent {line!r}, echoed in {took * 1000:.1f} ms")


async def idle_client(ctx: CheckContext) -> Outcome:
    line = f"anyone there? {ctx.random.randrange(1000, 9999)}\n".encode()
    async with ctx.server_program(), await ctx.connect():  # the first client: silent
        await trio.sleep(0.1)  # the server has accepted it by now
        async with await ctx.connect() as second:
            took = await _round_trip(ctx, second, line, IDLE_WAIT)
    if took is None:
        return Outcome(False, f"a first client connected and said nothing; a second sent "
                       f"{line!r} and heard nothing for {IDLE_WAIT:g}s")
    return Outcome(True, f"a first client connected and said nothing; a second was echoed "
                   f"in {took * 1000:.1f} ms")


# /proc: what the server's processes hold -------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    """The server's process tree at one moment."""

    processes: int
    threads: int
    kib: int
    measure: str  # "PSS" or "RSS"


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process this one can see."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def _tree(root: int) -> list[int]:
    parents = _parents()
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as status:
        return dict(line.split(":", 1) for line in status if ":" in line)


def _pss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def footprint(root: int) -> Footprint | None:
    """Processes, threads and memory (KiB) of ``root`` and its descendants; None without /proc."""
    try:
        pids = _tree(root)
        statuses = {pid: _status(pid) for pid in pids}
    except (OSError, ValueError):
        return None
    threads = sum(int(status.get("Threads", "1").split()[0]) for status in statuses.values())
    pss = [_pss(pid) for pid in pids]
    if all(value is not None for value in pss):
        return Footprint(len(pids), threads, sum(v for v in pss if v is not None), "PSS")
    rss = sum(int(status.get("VmRSS", "0 kB").split()[0]) for status in statuses.values())
    return Footprint(len(pids), threads, rss, "RSS")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "es" if word.endswith("s") else "s")


def _shape(print_: Footprint) -> str:
    return (f"{_plural(print_.processes, 'process')}, {_plural(print_.threads, 'thread')}, "
            f"{print_.kib:,} KiB {print_.measure}")


def _describe(before: Footprint | None, during: Footprint | None, clients: int) -> str:
    if before is None or during is None:
        return "the server's memory was not measured (no /proc)"
    grown = during.kib - before.kib
    return (f"server before: {_shape(before)}; with {clients} clients: {_shape(during)} "
            f"({grown / clients:+,.1f} KiB a connection)")


# Many clients at once -------------------------------------------------------------------


@dataclass
class Client:
    number: int
    connected: bool = False
    round_trip: float | None = None
    error: str = ""


async def _one_client(ctx: CheckContext, client: Client, answered: trio.Semaphore,
                      release: trio.Event) -> None:
    line = f"client {client.number} {ctx.random.randrange(1000, 9999)}\n".encode()
    try:
        stream = await trio.open_tcp_stream(ctx.host, ctx.port)
    except OSError as error:
        client.error = error.strerror or str(error)
        return
    async with stream:
        client.connected = True
        client.round_trip = await _round_trip(ctx, stream, line, ALL_WAIT)
        if client.round_trip is not None:
            answered.release()
        await release.wait()  # every client stays connected until the end of the test


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def fifty_at_once(ctx: CheckContext) -> Outcome:
    clients = [Client(n) for n in range(1, CLIENTS + 1)]
    answered = trio.Semaphore(0, max_value=CLIENTS)
    release = trio.Event()
    async with ctx.server_program() as program:
        before = footprint(program.pid)
        during = None
        async with trio.open_nursery() as nursery:
            for client in clients:
                nursery.start_soon(_one_client, ctx, client, answered, release)
            with trio.move_on_after(ALL_WAIT):
                for _ in clients:
                    await answered.acquire()
                await trio.sleep(SETTLE)
                during = footprint(program.pid)
            release.set()
            nursery.cancel_scope.cancel()
    trips = [c.round_trip for c in clients if c.round_trip is not None]
    if len(trips) < CLIENTS:
        waiting = sum(1 for c in clients if c.connected and c.round_trip is None)
        unconnected = sum(1 for c in clients if not c.connected)
        detail = (f"{len(trips)} of {CLIENTS} clients connected at once were answered within "
                  f"{ALL_WAIT:g}s; {waiting} connected and heard nothing")
        if unconnected:
            detail += f", {unconnected} not even connected"
        return Outcome(False, detail)
    return Outcome(True, f"{CLIENTS} of {CLIENTS} clients connected at once were answered; "
                   f"round trip p50 {statistics.median(trips) * 1000:.1f} ms, p99 "
                   f"{_percentile(trips, 0.99) * 1000:.1f} ms, max {max(trips) * 1000:.1f} ms; "
                   + _describe(before, during, CLIENTS))


ONE_AT_A_TIME = ("served one client at a time: while the server waits in recv() for one "
                 "client, the others' connections wait unaccepted or unread")

EXERCISE = Exercise(
    number=7,
    id="concurrency",
    title="Concurrency: every client at once (blocking, threads, processes, an event loop)",
    doc="docs/exercises/07-concurrency.md",
    checks=(
        Check("echoes", "server",
              "an echo server sends back every byte it receives",
              "accept a client, recv() and sendall() back what came, until recv() returns b''",
              echoes),
        Check("idle-client", "server",
              "a blocking call holds its whole thread: one silent client must not hold the "
              "others",
              f"{ONE_AT_A_TIME}; a silent client held everyone: serve each client in a thread "
              "(socketserver.ThreadingTCPServer), a process (ForkingTCPServer) or a task of "
              "an event loop (asyncio, Trio)",
              idle_client),
        Check("fifty-at-once", "server",
              "a server's clients overlap: each needs its own thread, process or task, and "
              "the listen() backlog must hold a burst of connections",
              f"{ONE_AT_A_TIME}; serve each client in a thread, a process or an event loop's "
              "task, and listen() with a backlog that holds a burst (socketserver's is 5)",
              fifty_at_once),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "idle-client": "served one client at a time",
            "fifty-at-once": "served one client at a time",
        }),
        Expectation(f"{FOLDER}/forking_server.py", "server"),
        Expectation(f"{FOLDER}/asyncio_server.py", "server"),
    ),
)
