"""How a fleet's clients write their history: one op per line, as it happens.

:class:`OpWriter` turns each :class:`~lab.history.Op` into one JSON line on a
text stream and flushes it at once, so the host sees ops while the fleet
runs and keeps every op written before a crash or a SIGKILL.
:class:`ProcessLog` is one client's pen: it stamps ``time.time()`` and its
process name on each op, and keeps what a connection's end must report
(is a connection open, which operation is in flight).

Resource handling: the writer does not own its stream; writes are blocking
and small (the reader on the host drains the pipe as it goes).

Error handling: :func:`guarded` turns a client's unexpected exception or the
fleet's deadline into ops (``info`` for the operation in flight,
``info disconnected``), never into a crash of the fleet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

import trio

from lab.history import Op, OpType
from services.runtime.retry import Backoff

LOGGER = logging.getLogger("lab.fleet")
# A client whose connection broke reconnects after these pauses, then gives up.
RECONNECT = Backoff(attempts=4, initial=0.2, factor=2.0, max_delay=2.0)
CONNECT_TIMEOUT = 5.0


class OpWriter:
    """Writes ops as JSON lines to ``out``, flushed one by one."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, op: Op) -> None:
        self.out.write(op.line() + "\n")
        self.out.flush()


def describe(exc: BaseException) -> str:
    """An exception as an op's ``error`` text: its message, or its class's name."""
    text = str(exc)
    return text if text else type(exc).__name__


def local_address(stream: trio.abc.Stream) -> str:
    """``IP:PORT`` of a socket stream's local end (``?`` when it has none)."""
    sock = getattr(stream, "socket", None)
    try:
        host, port = sock.getsockname()[:2] if sock is not None else ("?", 0)
    except OSError:
        return "?"
    return f"{host}:{port}"


class ProcessLog:
    """One client's ops: ``invoke``/``ok``/``fail``/``info``, and its connection's ends."""

    def __init__(self, writer: OpWriter, process: str) -> None:
        self.writer = writer
        self.process = process
        self.connected = False
        self.connecting_now = False
        # The operation invoked and not yet completed: (f, value with its "op").
        self.pending: tuple[str, dict[str, Any]] | None = None

    def op(self, type: OpType, f: str, value: dict[str, Any] | None = None) -> Op:
        op = Op(time.time(), self.process, type, f, dict(value or {}))
        self.writer.write(op)
        return op

    def invoke(self, f: str, value: dict[str, Any] | None = None) -> Op:
        if value and "op" in value:
            # A resume ends as the put it resumes: ok, fail or info put.
            self.pending = ("put" if f == "resume" else f, {"op": value["op"]})
        return self.op("invoke", f, value)

    def ok(self, f: str, value: dict[str, Any] | None = None) -> Op:
        self._settle(f)
        return self.op("ok", f, value)

    def fail(self, f: str, value: dict[str, Any] | None = None) -> Op:
        self._settle(f)
        return self.op("fail", f, value)

    def info(self, f: str, value: dict[str, Any] | None = None) -> Op:
        if value and "error" in value:  # an outcome, not an event such as progress
            self._settle(f)
        return self.op("info", f, value)

    def _settle(self, f: str) -> None:
        if self.pending is not None and self.pending[0] == f:
            self.pending = None

    # -- a connection's ends --------------------------------------------------------
    def connecting(self) -> None:
        self.connecting_now = True
        self.op("invoke", "connect")

    def connect_ok(self, stream: trio.abc.Stream) -> None:
        self.connecting_now = False
        self.connected = True
        self.op("ok", "connect", {"local": local_address(stream)})

    def connect_fail(self, error: str) -> None:
        self.connecting_now = False
        self.op("fail", "connect", {"error": error})

    def lost(self, error: str) -> None:
        """The connection ended unexpectedly (reported once per connection)."""
        if self.connected:
            self.connected = False
            self.op("info", "disconnected", {"error": error})

    def closed(self) -> None:
        """The connection ended as the workload meant it to."""
        if self.connected:
            self.connected = False
            self.op("ok", "close")

    def abandon(self, error: str) -> None:
        """Stop now: the operation in flight's outcome is unknown, the connection is lost."""
        if self.connecting_now:
            self.connect_fail(error)
        if self.pending is not None:
            f, value = self.pending
            self.pending = None
            self.op("info", f, {**value, "error": error})
        self.lost(error)


async def guarded(log: ProcessLog, deadline: float,
                  work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` until the Trio time ``deadline``; its errors and the deadline become ops."""
    with trio.move_on_at(deadline) as scope:
        try:
            await work()
        except Exception as exc:
            LOGGER.exception("%s: unexpected error", log.process)
            log.abandon(f"fleet error: {exc!r}")
    if scope.cancelled_caught:
        log.abandon("deadline")
