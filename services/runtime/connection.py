"""One client connection: receive with timeouts, sending through a queue, counters.

Resource handling: everything sent goes through a bounded queue (a plain
list). The server's :class:`~services.runtime.flusher.Flusher` writes it
one scheduler pass after it was queued, whatever was queued meanwhile in
one ``write`` (few syscalls, no Nagle wait). Only when the socket's buffer
is full does the connection start a writer task of its own, in the
flusher's nursery (``serve``'s nursery of connections), which waits for the
peer (at most the send timeout) and sends the rest, then ends; so bytes
never go out of order and two tasks never send at once. ``session()`` waits
until everything queued has been handed over before it returns. An idle
connection thus holds no writer task, no channel and no nursery: only its
handler's task, so thousands of idle clients stay cheap (the scale section
of ``lab bench``).

Error handling: Trio's ``BrokenResourceError``, a failed ``write`` and
timeouts are translated here, at one place, into
:mod:`services.runtime.errors`; a peer given up by keepalive or the user
timeout (``ETIMEDOUT``) is a reset like any other, its message saying the
peer stopped answering. A failure while sending, or ``abort()``, cancels the
session body; ``session()`` then raises the recorded failure as a plain
exception for the handler to log (and a bug in the sending code as itself:
it never reaches the shared nursery). ``end()`` cancels the body too, but
what is queued is still sent.
"""

from __future__ import annotations

import errno
import logging
import os
from contextlib import suppress
from types import TracebackType
from typing import TypeVar

import trio

from services.runtime.config import ServerConfig
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerReset, PeerTimeout, RuntimeFailure
from services.runtime.flusher import Flusher
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

    # Slots: one of these per connection; no per-instance dict.
    __slots__ = (
        "_body_scope", "_closed", "_drained", "_ended", "_flushed", "_flusher", "_pending",
        "_pending_bytes", "_room", "_socket", "_unsent", "_writer_error", "_writing", "config",
        "counters", "failure", "logger", "peer", "queued", "queued_bytes", "stream",
    )

    def __init__(
        self,
        stream: trio.abc.HalfCloseableStream,
        *,
        config: ServerConfig,
        counters: Counters,
        logger: logging.Logger,
        flusher: Flusher | None = None,
    ) -> None:
        self.stream = stream
        self.config = config
        self.counters = counters
        self.logger = logger
        self.peer = describe_peer(stream)
        self.failure: RuntimeFailure | None = None
        self.queued = 0
        self.queued_bytes = 0  # queued for the writer and not yet handed to the socket
        self._pending: list[bytes] = []  # queued, not yet taken by the flusher or writer
        self._pending_bytes = 0
        self._unsent = memoryview(b"")  # taken, and left over by a write (the writer's)
        self._closed = False  # nothing more may be queued
        self._writing = False  # the writer task runs (the socket's buffer was full)
        self._writer_error: Exception | None = None  # a bug while sending, for session()
        self._flusher = flusher
        self._room: trio.Event | None = None  # made by a sender waiting for room
        self._flushed: trio.Event | None = None  # made by session() waiting for the writer
        self._body_scope: trio.CancelScope | None = None
        self._ended = False
        self._drained = True  # the last read left nothing behind (so wait first)
        self._socket = getattr(stream, "socket", None)  # None: a memory stream (tests)

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
                if self._drained and self._socket is not None:
                    # The last read drained the socket: wait for more a few
                    # frames deep, not in receive_some's whole stack (the
                    # stream, the socket wrapper, the non-blocking helper), so
                    # an idle peer's wait holds a fraction of that memory. A
                    # socket closed meanwhile is left to receive_some to report.
                    # (Not suppress(): a with-block would hold its exit for the wait.)
                    try:  # noqa: SIM105
                        await trio.lowlevel.wait_readable(self._socket)
                    except OSError:
                        pass
                data = bytes(await self.stream.receive_some(max_bytes))
            except trio.BrokenResourceError as exc:
                raise broken(exc) from None
            except trio.ClosedResourceError:
                raise PeerClosed("connection closed locally") from None
        if scope.cancelled_caught:
            raise PeerTimeout(f"no data for {limit:g} s")
        self._drained = len(data) < max_bytes
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
        if self._closed or len(self._pending) >= self.config.queue_size:
            return False
        self._queue(data)
        self.queued += 1
        return True

    async def send(self, data: bytes) -> None:
        """Queue ``data``, waiting for room (back-pressure) at most the send timeout.

        With room, ``data`` is queued before the task yields (as a memory
        channel's ``send`` does): what other tasks queue meanwhile goes after it.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._closed or len(self._pending) < self.config.queue_size:
            self._queue_or_refuse(data)
            await trio.lowlevel.cancel_shielded_checkpoint()  # queued: only a schedule point
            return
        with trio.move_on_after(self.config.send_timeout) as scope:
            while not self._closed and len(self._pending) >= self.config.queue_size:
                if self._room is None:
                    self._room = trio.Event()
                await self._room.wait()
        if scope.cancelled_caught:
            raise PeerTimeout(f"peer did not read for {self.config.send_timeout:g} s")
        self._queue_or_refuse(data)

    def _queue_or_refuse(self, data: bytes) -> None:
        """``send``'s end: queue ``data``, or raise why the connection takes no more."""
        if self._closed:
            raise self.failure or PeerClosed("connection is closing")
        self._queue(data)
        self.queued += 1

    def abort(self, failure: RuntimeFailure, farewell: bytes | None = None) -> None:
        """End the session now: drop what is queued, send ``farewell`` if given.

        Safe to call from any task (a broadcaster noticing a full queue). The
        first failure recorded wins.
        """
        if self.failure is None:
            self.failure = failure
        self._drop()
        if farewell and not self._closed:
            self._queue(farewell)
            self.queued += 1
        self._close()
        if self._body_scope is not None:
            self._body_scope.cancel()

    def end(self) -> None:
        """End the session body now (a kick, a shutdown); what is queued is still sent."""
        self._ended = True
        if self._body_scope is not None:
            self._body_scope.cancel()

    def _queue(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.queued_bytes += len(data)
        if not self._writing and self._flusher is not None:
            self._flusher.mark(self)

    def flush_now(self) -> None:
        """The flusher's turn: write what is queued if the socket takes it now.

        What the socket does not take is left to a writer task, started
        here, that waits for the peer. Never raises: a failure is recorded.
        """
        if self._writing or not self._pending:
            return
        try:
            payload = self._payload(self._take())
            written = self._write_now(payload)
            if written == len(payload):
                self._sent(written)
                if self._pending and self._flusher is not None:  # more than one batch
                    self._flusher.mark(self)
            else:
                self._sent(written)
                self._unsent = memoryview(payload)[written:]
                self._start_writer()
        except trio.BrokenResourceError as exc:
            self._fail(broken(exc, " while sending"))
        except Exception as exc:
            # A bug: the session reports it; the flusher goes on with the others.
            self._writer_error = exc
            self._fail(PeerClosed("connection closed locally"))
        self._check_flushed()

    def _start_writer(self) -> None:
        if self._flusher is not None:
            self._writing = True
            self._flusher.nursery.start_soon(self._writer)

    @staticmethod
    def _payload(batch: list[bytes]) -> bytes:
        return batch[0] if len(batch) == 1 else b"".join(batch)

    def _sent(self, size: int) -> None:
        self.counters.bytes_out += size
        self.queued_bytes -= size

    def _check_flushed(self) -> None:
        """Wake ``session()``'s exit if everything queued has been handed over."""
        if self._flushed is not None and not self._pending and not self._writing:
            self._flushed.set()

    def _take(self) -> list[bytes]:
        """What the writer sends next: everything queued, or up to ``MAX_BATCH`` bytes."""
        pending = self._pending
        if self._pending_bytes <= MAX_BATCH:
            self._pending, self._pending_bytes = [], 0
            taken = pending
        else:
            size = count = 0
            while count < len(pending) and size < MAX_BATCH:
                size += len(pending[count])
                count += 1
            taken, self._pending = pending[:count], pending[count:]
            self._pending_bytes -= size
        if self._room is not None:  # senders waiting for room may go on
            self._room.set()
            self._room = None
        return taken

    def _drop(self) -> None:
        self.queued_bytes -= self._pending_bytes
        self._pending, self._pending_bytes = [], 0
        self._check_flushed()

    def _close(self) -> None:
        """Nothing more may be queued; senders waiting for room are woken (and refused)."""
        self._closed = True
        if self._room is not None:
            self._room.set()
            self._room = None

    async def _writer(self) -> None:
        """The socket's buffer was full: wait for the peer, send the rest and what follows."""
        try:
            while True:
                unsent, self._unsent = self._unsent, memoryview(b"")
                with trio.move_on_after(self.config.send_timeout) as scope:
                    await self.stream.send_all(unsent)
                if scope.cancelled_caught:
                    raise PeerTimeout(f"peer did not read for {self.config.send_timeout:g} s")
                self._sent(len(unsent))
                if not self._pending:
                    return
                self._unsent = memoryview(self._payload(self._take()))
        except trio.BrokenResourceError as exc:
            self._fail(broken(exc, " while sending"))
        except trio.ClosedResourceError:
            self._fail(PeerClosed("connection closed locally"))
        except PeerTimeout as exc:
            self._fail(exc)
        except Exception as exc:
            # A bug: the session reports it; the shared nursery must not see it.
            self._writer_error = exc
            self._fail(PeerClosed("connection closed locally"))
        finally:
            self._writing = False
            self._check_flushed()

    def _write_now(self, payload: bytes) -> int:
        """Hand ``payload`` to the kernel if it takes it now; the bytes it took.

        Most writes find room in the socket's buffer: then one ``write``
        does it, without the stream's machinery or a timeout's cancel scope
        (most of a chat server's time went there, a delivery at a time).
        The rest, if any, goes through ``send_all`` under the send timeout.
        A stream without a socket (tests), or a closed one, takes nothing
        here; an error is raised as the stream would raise it.
        """
        fd = -1 if self._socket is None else self._socket.fileno()
        if fd < 0:
            return 0
        try:
            return os.write(fd, payload)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket connection broken: {exc}") from exc

    def _fail(self, failure: RuntimeFailure) -> None:
        if self.failure is None:
            self.failure = failure
        self._drop()
        self._close()
        if self._body_scope is not None:
            self._body_scope.cancel()

    def session(self) -> _Session:
        """``async with conn.session():`` the body, the writer while something is queued,
        the flush on exit; a recorded failure is raised at the end.

        On normal exit everything queued is still sent (each ``send_all``
        bounded by the send timeout) before the context exits. Needs the
        flusher (given at construction).
        """
        if self._flusher is None:
            raise RuntimeError("PeerConnection.session() needs a flusher to send")
        return _Session(self)

    async def send_eof(self) -> None:
        """Half-close our side (after ``session()`` has flushed)."""
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await self.stream.send_eof()

    async def aclose(self) -> None:
        """Close the stream now."""
        await trio.aclose_forcefully(self.stream)


class _Session:
    """``PeerConnection.session()``: a class, not a generator, as it lives as long as the
    connection (one object less per idle client)."""

    __slots__ = ("_conn", "_scope")

    def __init__(self, conn: PeerConnection) -> None:
        self._conn = conn
        self._scope = trio.CancelScope()

    async def __aenter__(self) -> PeerConnection:
        conn = self._conn
        self._scope.__enter__()
        conn._body_scope = self._scope
        if conn._ended:
            self._scope.cancel()
        if conn._pending and conn._flusher is not None:  # queued before the session
            conn._flusher.mark(conn)
        return conn

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> bool:
        conn = self._conn
        conn._close()
        # The body's scope swallows its own cancellation (end, abort, a writer failure).
        remaining: BaseException | None
        try:
            remaining = None if self._scope.__exit__(exc_type, exc, tb) else exc
        except BaseException as raised:
            remaining = raised
        finally:
            conn._body_scope = None
        while conn._pending or conn._writing:  # handed over, or dropped on a failure
            conn._flushed = trio.Event()
            await conn._flushed.wait()
        conn._flushed = None
        if remaining is not None:
            if not isinstance(remaining, Exception):
                if remaining is exc:
                    return False
                raise remaining
            # The plain exception, not a group, reaches the handler's except clauses.
            raise collapse(remaining)
        if conn._writer_error is not None:
            raise conn._writer_error
        if conn.failure is not None:
            raise conn.failure
        return exc is not None
