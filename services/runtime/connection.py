"""One client connection: receive with timeouts, one writer task, counters.

Resource handling: ``session()`` runs the connection's only writer task.
Everything sent goes through a bounded queue that the writer drains, batching
whatever is queued into one ``send_all`` (few syscalls, no Nagle wait), so two
tasks never call ``send_all`` concurrently.

Error handling: Trio's ``BrokenResourceError`` and timeouts are translated
here, at one place, into :mod:`services.runtime.errors`; a peer given up by
keepalive or the user timeout (``ETIMEDOUT``) is a reset like any other,
its message saying the peer stopped answering. A failure of the
writer, or ``abort()``, cancels the session body; ``session()`` then raises the
recorded failure as a plain exception for the handler to log.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

import trio

from services.runtime.config import ServerConfig
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerReset, PeerTimeout, RuntimeFailure
from services.wire.sentinels import Closed, EventSource, NeedData

MAX_BATCH = 256 * 1024
RECEIVE_SIZE = 64 * 1024
EventT = TypeVar("EventT")


def collapse(exc: Exception) -> Exception:
    """The one exception inside nested single-member groups, else ``exc`` itself.

    A handler's body usually runs a nursery; a lone failure from it should
    reach the handler's ``except`` clauses as itself, not as a group.
    """
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def broken(exc: trio.BrokenResourceError, doing: str = "") -> PeerReset:
    """The failure a broken stream means: a reset, said as such when keepalive gave up.

    The kernel fails a socket with ``ETIMEDOUT`` when keepalive probes or
    unacknowledged data went unanswered (:mod:`services.runtime.keepalive`);
    it has reset the connection then, so it is counted as one.
    """
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno == errno.ETIMEDOUT:
        return PeerReset(f"peer stopped answering{doing}: connection reset ({cause})")
    return PeerReset(f"connection reset{doing} ({cause or exc})")


def describe_peer(stream: trio.abc.Stream) -> str:
    """``host:port`` of the remote end, or ``?`` when the stream has no socket."""
    sock = getattr(stream, "socket", None)
    if sock is None:
        return "?"
    try:
        address = sock.getpeername()
    except OSError:
        return "?"
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)


class PeerConnection:
    """A stream to one peer, with the runtime's limits applied."""

    def __init__(
        self,
        stream: trio.abc.HalfCloseableStream,
        *,
        config: ServerConfig,
        counters: Counters,
        logger: logging.Logger,
    ) -> None:
        self.stream = stream
        self.config = config
        self.counters = counters
        self.logger = logger
        self.peer = describe_peer(stream)
        self.failure: RuntimeFailure | None = None
        self.queued = 0
        self.queued_bytes = 0  # queued for the writer and not yet handed to the socket
        self._send_q, self._recv_q = trio.open_memory_channel[bytes](config.queue_size)
        self._body_scope: trio.CancelScope | None = None

    # -- receiving ------------------------------------------------------
    async def receive(
        self, max_bytes: int = RECEIVE_SIZE, *, timeout: float | None = None
    ) -> bytes:
        """Receive some bytes; ``b""`` at EOF.

        Raises :class:`PeerTimeout` after ``timeout`` (default: the idle
        timeout) without data, :class:`PeerClosed` on a reset.
        """
        limit = self.config.idle_timeout if timeout is None else timeout
        with trio.move_on_after(limit) as scope:
            try:
                data = bytes(await self.stream.receive_some(max_bytes))
            except trio.BrokenResourceError as exc:
                raise broken(exc) from None
            except trio.ClosedResourceError:
                raise PeerClosed("connection closed locally") from None
        if scope.cancelled_caught:
            raise PeerTimeout(f"no data for {limit:g} s")
        self.counters.bytes_in += len(data)
        return data

    async def next_event(
        self,
        source: EventSource[EventT],
        max_bytes: int = RECEIVE_SIZE,
        *,
        timeout: float | None = None,
    ) -> EventT | Closed:
        """The parser's next event or ``CLOSED``, receiving as long as it needs data.

        Each receive is bounded as in :meth:`receive`; the parser's own
        :class:`~services.wire.errors.RemoteProtocolError` propagates.
        """
        while True:
            event = source.next_event()
            if not isinstance(event, NeedData):
                return event
            source.receive_data(await self.receive(max_bytes, timeout=timeout))

    # -- sending ----------------------------------------------------------
    def send_nowait(self, data: bytes) -> bool:
        """Queue ``data`` for the writer. False if the queue is full or closed."""
        try:
            self._send_q.send_nowait(data)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        self.queued += 1
        self.queued_bytes += len(data)
        return True

    async def send(self, data: bytes) -> None:
        """Queue ``data``, waiting for room (back-pressure) at most the send timeout."""
        self.queued_bytes += len(data)  # before the wait: the writer may take it at once
        sent = False
        try:
            with trio.move_on_after(self.config.send_timeout) as scope:
                try:
                    await self._send_q.send(data)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    raise self.failure or PeerClosed("connection is closing") from None
                sent = True
        finally:
            if not sent:
                self.queued_bytes -= len(data)
        if scope.cancelled_caught:
            raise PeerTimeout(f"peer did not read for {self.config.send_timeout:g} s")
        self.queued += 1

    def abort(self, failure: RuntimeFailure, farewell: bytes | None = None) -> None:
        """End the session now: drop what is queued, send ``farewell`` if given.

        Safe to call from any task (a broadcaster noticing a full queue). The
        first failure recorded wins.
        """
        if self.failure is None:
            self.failure = failure
        while True:
            try:
                self.queued_bytes -= len(self._recv_q.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        if farewell:
            self.send_nowait(farewell)
        self._send_q.close()
        if self._body_scope is not None:
            self._body_scope.cancel()

    async def _writer(self) -> None:
        try:
            async for first in self._recv_q:
                batch = [first]
                size = len(first)
                while size < MAX_BATCH:
                    try:
                        chunk = self._recv_q.receive_nowait()
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                    batch.append(chunk)
                    size += len(chunk)
                payload = first if len(batch) == 1 else b"".join(batch)
                with trio.move_on_after(self.config.send_timeout) as scope:
                    await self.stream.send_all(payload)
                if scope.cancelled_caught:
                    raise PeerTimeout(f"peer did not read for {self.config.send_timeout:g} s")
                self.counters.bytes_out += size
                self.queued_bytes -= size
        except trio.BrokenResourceError as exc:
            self._fail(broken(exc, " while sending"))
        except trio.ClosedResourceError:
            self._fail(PeerClosed("connection closed locally"))
        except PeerTimeout as exc:
            self._fail(exc)

    def _fail(self, failure: RuntimeFailure) -> None:
        if self.failure is None:
            self.failure = failure
        self._recv_q.close()
        if self._body_scope is not None:
            self._body_scope.cancel()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PeerConnection]:
        """Run the writer around the body; flush on exit; raise a recorded failure.

        On normal exit everything queued is still sent (each ``send_all``
        bounded by the send timeout) before the context exits.
        """
        body_error: Exception | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._writer)
            with trio.CancelScope() as self._body_scope:
                try:
                    yield self
                except Exception as exc:
                    # Re-raised below, outside the nursery, so handlers see the
                    # plain exception rather than an ExceptionGroup.
                    body_error = exc
                finally:
                    self._send_q.close()
        self._body_scope = None
        if body_error is not None:
            raise collapse(body_error)
        if self.failure is not None:
            raise self.failure

    async def send_eof(self) -> None:
        """Half-close our side (after ``session()`` has flushed)."""
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await self.stream.send_eof()

    async def aclose(self) -> None:
        """Close the stream now."""
        await trio.aclose_forcefully(self.stream)
