"""Rogue peers: N connections that each misbehave one way, and what the server did about it.

Theory of operation. :func:`run_rogues` opens ``count`` connections at once
(process ``rogue.<behaviour>-<i>``); each one misbehaves (see
:data:`BEHAVIOURS`) and is then held until the server closes it, ``hold``
seconds pass or ``stop`` is set (the CLI sets it at stdin's EOF), whichever
comes first. A reader task records every error the server sends
(``info server-error {"after", "code"}``) and how the connection ended
(``info closed-by-server {"after", "error", "reset", "received"}``; ``after``
is seconds since the connection opened). A connection the server left open
ends with ``ok close {"after", "sent", "reset"}``.

``stop-reading`` cannot read, so it watches its socket for the server's
reset or FIN (``poll``); a FIN queued behind unread bytes only shows when
the rogue finally drains the socket at the end of its hold (that op says
``"late": true``).

Resource handling: each connection is closed when its rogue ends (``rst``:
with ``SO_LINGER`` 0, i.e. a reset). Every wait is bounded by ``hold``;
draining by ``DRAIN_TIME``.
"""

from __future__ import annotations

import errno
import hashlib
import select
import socket
import struct
from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal, TextIO

import trio

from lab.fleet.record import CONNECT_TIMEOUT, OpWriter, ProcessLog, describe
from lab.rogue import wire
from lab.rogue.wire import Service
from services.upload.client import UploadClient, UploadError

Behaviour = Literal["fin", "rst", "half-close", "stop-reading", "slowloris", "garbage",
                    "oversized"]
BEHAVIOURS: tuple[Behaviour, ...] = ("fin", "rst", "half-close", "stop-reading", "slowloris",
                                     "garbage", "oversized")
MAX_HOLD = 3600.0
MAX_COUNT = 1000
SLOWLORIS_PERIOD = 1.0
SMALL_RECEIVE_BUFFER = 4096
POLL_PERIOD = 0.2
DRAIN_TIME = 3.0
CUT_AFTER = 0.2  # rst and fin: time for the server to act on the request before the cut
FLOOD_PERIOD = 0.1
FLOOD_LINES = 10  # chat stop-reading: /help lines per FLOOD_PERIOD (under --max-rate)
STDIN_PROBE_DELAY = 1.0
STDIN_PROBE_PERIOD = 0.5
UPLOAD_SIZE = 8 * 1024 * 1024  # big enough that an unread download fills every buffer
MAX_ERROR_OPS = 20


@dataclass(frozen=True)
class RogueSpec:
    """``count`` connections to ``host:port`` (a ``service``) doing ``behaviour``."""

    service: Service
    host: str
    port: int
    behaviour: Behaviour
    count: int = 1
    hold: float = 10.0
    token: str = "netlab-lab"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.service not in wire.SERVICES:
            raise ValueError(f"service is one of {wire.SERVICES}")
        if self.behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour is one of {BEHAVIOURS}")
        if not 1 <= self.count <= MAX_COUNT:
            raise ValueError(f"count is between 1 and {MAX_COUNT}")
        if not 0 <= self.hold <= MAX_HOLD:
            raise ValueError(f"hold is between 0 and {MAX_HOLD:g} seconds")


async def run_rogues(spec: RogueSpec, out: TextIO, stop: trio.Event | None = None) -> None:
    """Run every rogue connection of ``spec``; their ops go to ``out`` as JSON lines."""
    writer = OpWriter(out)
    stop = stop if stop is not None else trio.Event()
    async with trio.open_nursery() as nursery:
        for index in range(spec.count):
            log = ProcessLog(writer, f"rogue.{spec.behaviour}-{index}")
            nursery.start_soon(Rogue(spec, index, log, stop).run)


async def open_socket(host: str, port: int, *, receive_buffer: int | None) -> trio.SocketStream:
    """A TCP connection, with a small receive buffer set before the handshake if asked."""
    with trio.fail_after(CONNECT_TIMEOUT):
        infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, type_, proto, _, address = infos[0]
        sock = trio.socket.socket(family, type_, proto)
        try:
            if receive_buffer is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            await sock.connect(address)
        except BaseException:
            sock.close()
            raise
    return trio.SocketStream(sock)


class Rogue:
    """One misbehaving connection."""

    def __init__(self, spec: RogueSpec, index: int, log: ProcessLog, stop: trio.Event) -> None:
        self.spec = spec
        self.index = index
        self.log = log
        self.stop = stop
        self.service: Service = spec.service
        self.scanner = wire.ErrorScanner(spec.service)
        self.opened = 0.0
        self.sent = 0
        self.received = 0
        self.errors: list[str] = []
        self.ended = False  # the server closed or reset the connection

    def after(self) -> float:
        return round(trio.current_time() - self.opened, 3)

    async def run(self) -> None:
        self.log.connecting()
        small = SMALL_RECEIVE_BUFFER if self.spec.behaviour == "stop-reading" else None
        try:
            stream = await open_socket(self.spec.host, self.spec.port, receive_buffer=small)
        except (OSError, trio.TooSlowError) as exc:
            self.log.connect_fail(describe(exc) if str(exc) else "connect timed out")
            return
        self.opened = trio.current_time()
        self.log.connect_ok(stream)
        reset = False
        try:
            if self.spec.behaviour in ("fin", "rst"):
                reset = self.spec.behaviour == "rst"
                await self._cut(stream, reset=reset)
            else:
                await self._hold(stream)
        finally:
            await trio.aclose_forcefully(stream)
        if not self.ended:
            self.log.connected = False
            self.log.op("ok", "close", {"after": self.after(), "sent": self.sent,
                                        "reset": reset})

    # -- sending ---------------------------------------------------------------------
    async def send(self, stream: trio.SocketStream, data: bytes) -> None:
        await stream.send_all(data)
        self.sent += len(data)

    async def _cut(self, stream: trio.SocketStream, *, reset: bool) -> None:
        """Start an exchange, then close (FIN) or reset (RST) in the middle of it."""
        with trio.move_on_after(CONNECT_TIMEOUT), suppress(trio.BrokenResourceError, OSError):
            await self.send(stream, wire.busy_request(self.service, self.spec.token))
            if self.service == "upload":
                await self._half_an_upload(stream)
            await trio.sleep(CUT_AFTER)
        if reset:
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def _half_an_upload(self, stream: trio.SocketStream) -> None:
        content = bytes(1024 * 1024)
        await self.send(stream, wire.put_frame(self._file_name(), len(content),
                                               hashlib.sha256(content).hexdigest()))
        seen = b""
        while not wire.whole_frame(seen):  # READY (or an ERROR: the rogue goes on anyway)
            data = await stream.receive_some(65536)
            if not data:
                return
            seen += data
        await self.send(stream, wire.data_frames(content[: len(content) // 2]))

    def _file_name(self) -> str:
        return f"rogue-{self.spec.behaviour}-{self.index}.bin"

    # -- holding ---------------------------------------------------------------------
    async def _hold(self, stream: trio.SocketStream) -> None:
        behave = {
            "half-close": self._half_close, "stop-reading": self._stop_reading,
            "slowloris": self._slowloris, "garbage": self._garbage,
            "oversized": self._oversized,
        }[self.spec.behaviour]
        with trio.move_on_at(self.opened + self.spec.hold):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stop_on, nursery.cancel_scope)
                if self.spec.behaviour == "stop-reading":
                    nursery.start_soon(self._watch, stream, nursery.cancel_scope)
                else:
                    nursery.start_soon(self._read, stream, nursery.cancel_scope)
                await _sending(behave(stream), self, nursery.cancel_scope)
                await trio.sleep_forever()
        if self.spec.behaviour == "stop-reading" and not self.ended:
            await self._drain(stream)

    async def _stop_on(self, scope: trio.CancelScope) -> None:
        await self.stop.wait()
        scope.cancel()

    async def _half_close(self, stream: trio.SocketStream) -> None:
        await self.send(stream, wire.first_request(self.service, self.spec.token))
        await stream.send_eof()

    async def _slowloris(self, stream: trio.SocketStream) -> None:
        for byte in wire.first_request(self.service, self.spec.token):
            await self.send(stream, bytes([byte]))
            await trio.sleep(SLOWLORIS_PERIOD)

    async def _garbage(self, stream: trio.SocketStream) -> None:
        await self.send(stream, wire.garbage(self.service, self.spec.seed, self.index))

    async def _oversized(self, stream: trio.SocketStream) -> None:
        await self.send(stream, wire.oversized(self.service))

    async def _stop_reading(self, stream: trio.SocketStream) -> None:
        if self.service == "chat":
            await self.send(stream, wire.preface("chat"))
            while True:  # answers pile up unread; the lines also show when the server is gone
                await self.send(stream, b"/help\n" * FLOOD_LINES)
                await trio.sleep(FLOOD_PERIOD)
        elif self.service == "exec":
            await self.send(stream, wire.preface("exec") + wire.run_frame(
                wire.FLOOD_COMMAND, self.spec.token, stdin=True))
            # A byte of input now and then (after STARTED, which cannot be read) meets a
            # reset as soon as the server has closed: the moment it gave up on us.
            await trio.sleep(STDIN_PROBE_DELAY)
            while True:
                await self.send(stream, wire.stdin_frame(b"\n"))
                await trio.sleep(STDIN_PROBE_PERIOD)
        else:
            await self.send(stream, wire.preface("upload"))
            client = UploadClient(stream)
            try:
                await client.put(bytes(UPLOAD_SIZE), name=self._file_name(), overwrite=True)
            except UploadError as exc:
                self.log.info("setup", {"error": describe(exc)})
                return
            await self.send(stream, wire.get_frame(self._file_name()))

    # -- what the server does --------------------------------------------------------
    async def _read(self, stream: trio.SocketStream, scope: trio.CancelScope) -> None:
        try:
            while data := await stream.receive_some(65536):
                self._took(data)
        except trio.BrokenResourceError as exc:
            self._closed(reset=_is_reset(exc))
        else:
            self._closed(reset=False)
        scope.cancel()

    async def _watch(self, stream: trio.SocketStream, scope: trio.CancelScope) -> None:
        poller = select.poll()
        poller.register(stream.socket.fileno(), select.POLLRDHUP | select.POLLERR | select.POLLHUP)
        # No event to wait on: readable is no news (the bytes are unread on purpose).
        while not poller.poll(0):  # noqa: ASYNC110
            await trio.sleep(POLL_PERIOD)
        error = stream.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self._closed(reset=error == errno.ECONNRESET)
        scope.cancel()

    async def _drain(self, stream: trio.SocketStream) -> None:
        with trio.move_on_after(DRAIN_TIME):
            try:
                while data := await stream.receive_some(256 * 1024):
                    self._took(data)
            except trio.BrokenResourceError as exc:
                self._closed(reset=_is_reset(exc), late=True)
            else:
                self._closed(reset=False, late=True)

    def _took(self, data: bytes) -> None:
        self.received += len(data)
        for code in self.scanner.feed(data):
            self.errors.append(code)
            if len(self.errors) <= MAX_ERROR_OPS:
                self.log.info("server-error", {"after": self.after(), "code": code})

    def _closed(self, *, reset: bool, late: bool = False) -> None:
        if self.ended:
            return
        self.ended = True
        self.log.connected = False
        value = {"after": self.after(), "error": self.errors[-1] if self.errors else None,
                 "reset": reset, "received": self.received}
        if late:
            value["late"] = True
        self.log.info("closed-by-server", value)


async def _sending(behaviour: Awaitable[None], rogue: Rogue, scope: trio.CancelScope) -> None:
    """Run a behaviour's sends; a send refused by a closed connection is the server's end."""
    try:
        await behaviour
    except trio.BrokenResourceError as exc:
        rogue._closed(reset=_is_reset(exc))
        scope.cancel()


def _is_reset(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, ConnectionResetError) or (
        isinstance(cause, OSError) and cause.errno in (errno.ECONNRESET, errno.EPIPE))

