"""The chat loads' clients: connections that greet, read into an :class:`Inbox`, and send.

Shared by ``lab bench-load chat`` and ``lab bench-load scale``: every client
of one load is a Trio task group in one process, so the load can see at once
whether every client has heard every other one (:func:`barrier`) and all
timestamps come from one clock.

Resource handling: :func:`connect` returns open streams; whoever opened them
closes them (:func:`close_all`). Each client's reader runs in the caller's
nursery and ends at EOF, on a reset, or when that nursery is cancelled.
Error handling: a reset or EOF while reading is recorded in
:attr:`LoadClient.ended` (the load reports those clients), never raised;
a failed connect raises :class:`LoadError` (a load needs all of its clients).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence

import trio

from lab.bench.chat_lines import Dialect, Inbox, sync

RECEIVE_SIZE = 64 * 1024
CONNECTING = 200  # connects in flight at once (the server's accept backlog is finite)
SYNC_INTERVAL = 0.2
CONNECT_TIMEOUT = 20.0


class LoadError(Exception):
    """A load could not run as asked (a client could not connect, the barrier never closed)."""


class LoadClient:
    """One chat client of a load: its stream, its inbox, how many messages it sent."""

    def __init__(self, index: int, stream: trio.SocketStream, inbox: Inbox) -> None:
        self.index = index
        self.stream = stream
        self.inbox = inbox
        self.sent = 0
        self.ended = ""  # "eof" or "reset" if the server ended it before the load did
        self.after_feed: Callable[[], None] | None = None  # called after each read

    async def read(self) -> None:
        """Feed the inbox until EOF, a reset or cancellation."""
        feed = self.inbox.feed
        try:
            while data := await self.stream.receive_some(RECEIVE_SIZE):
                feed(data, time.monotonic_ns())
                if self.after_feed is not None:
                    self.after_feed()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.ended = "reset"
            return
        self.ended = "eof"


async def resolve(host: str, port: int) -> str:
    """``host``'s first IPv4/IPv6 address (resolved once for thousands of connects)."""
    found = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not found:
        raise LoadError(f"{host} does not resolve")
    return str(found[0][4][0])


async def connect(address: str, port: int, count: int, *,
                  hello: Sequence[bytes] = (b"",)) -> list[trio.SocketStream]:
    """``count`` connections to ``address:port``, ``CONNECTING`` at a time.

    Connection ``i`` sends ``hello[i % len(hello)]`` first (if not empty).
    Raises :class:`LoadError` (with every opened stream closed) if one fails.
    """
    streams: list[trio.SocketStream | None] = [None] * count
    limiter = trio.CapacityLimiter(CONNECTING)
    failures: list[str] = []

    async def one(i: int) -> None:
        async with limiter:
            try:
                with trio.fail_after(CONNECT_TIMEOUT):
                    stream = await trio.open_tcp_stream(address, port)
                    streams[i] = stream
                    greeting = hello[i % len(hello)]
                    if greeting:
                        await stream.send_all(greeting)
            except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

    async with trio.open_nursery() as nursery:
        for i in range(count):
            nursery.start_soon(one, i)
    opened = [stream for stream in streams if stream is not None]
    if failures:
        await close_all(opened)
        raise LoadError(f"{len(failures)} of {count} connections to {address}:{port} failed "
                        f"(first: {failures[0]})")
    return opened


async def close_all(streams: Sequence[trio.abc.AsyncResource]) -> None:
    with trio.CancelScope(shield=True):
        for stream in streams:
            await trio.aclose_forcefully(stream)


def clients_of(streams: Sequence[trio.SocketStream], inboxes: Sequence[Inbox]) -> list[LoadClient]:
    return [LoadClient(i, stream, inbox)
            for i, (stream, inbox) in enumerate(zip(streams, inboxes, strict=True))]


def nicks(dialect: Dialect, count: int, prefix: str = "c",
          room: str | None = None) -> list[bytes]:
    """Each client's greeting: ``c0``, ``c1``... for the baselines, the preface for netlab."""
    return [dialect.hello(f"{prefix}{i}", room) for i in range(count)]


async def barrier(clients: Sequence[LoadClient], timeout: float) -> float:
    """Every client says ``%s i`` until each has heard every other; the seconds it took.

    Once it has closed, every client is registered with the server (it sent
    and received a broadcast), so every later message reaches all of them.
    """
    everyone = {client.index for client in clients}
    started = trio.current_time()

    def closed() -> bool:
        return all(client.inbox.synced | {client.index} >= everyone for client in clients)

    with trio.move_on_after(timeout):
        while not closed():
            for client in clients:
                if not client.ended:
                    await client.stream.send_all(sync(client.index))
            with trio.move_on_after(SYNC_INTERVAL):
                while not closed():  # noqa: ASYNC110 (the readers update what it polls)
                    await trio.sleep(0.01)
        return trio.current_time() - started
    heard = min(len(client.inbox.synced | {client.index}) for client in clients)
    raise LoadError(f"barrier: after {timeout:g} s a client had heard only {heard} of "
                    f"{len(clients)} clients")
