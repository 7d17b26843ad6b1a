"""The exec client library: ``async with open_exec(host, port, token=t) as ex: await ex.run(c)``.

One connection runs one command at a time; ``run`` streams the command's
stdout and stderr to callbacks as they arrive (and/or captures them) and
returns an :class:`ExecResult` once the server reports the end.

Every wait on the server is bounded: connecting by ``connect_timeout``, the
answer to RUN by ``response_timeout``, a queued command by the wait the
server announced, a running one by the time limit the server announced
(plus ``response_timeout``).

Cancelling ``run`` (a timeout of the caller's, Ctrl-C) abandons the
connection: it is closed, and the server kills the command's process group.
"""

from __future__ import annotations

import inspect
import math
import signal
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import trio

from services.remote_exec.events import (
    Cancel,
    Error,
    Event,
    ExecErrorCode,
    Exit,
    Queued,
    Reason,
    Run,
    Started,
    Stderr,
    Stdin,
    StdinEof,
    Stdout,
)
from services.remote_exec.protocol import ExecConnection, Role, State
from services.runtime.retry import UNTIL_UP, ConnectFailed, connect_with_retry
from services.wire.errors import ProtocolError
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA

RECEIVE_SIZE = 256 * 1024
STDIN_CHUNK = 64 * 1024

EXIT_UNAVAILABLE = 69  # cannot connect, busy, server shutting down (sysexits EX_UNAVAILABLE)
EXIT_PROTOCOL = 76  # the server broke the protocol (EX_PROTOCOL)
EXIT_AUTH = 77  # wrong or missing token (EX_NOPERM)
EXIT_TIMEOUT = 124  # the command hit its time limit (as timeout(1))
EXIT_OUTPUT_LIMIT = 125  # the command hit the output cap

OutputCallback = Callable[[bytes], Awaitable[None] | None]
StdinSource = bytes | AsyncIterable[bytes]


class ExecError(Exception):
    """Base class of the client's errors."""


class ExecConnectionError(ExecError):
    """Could not reach the server, or the connection broke."""


class ExecTimeout(ExecError):
    """The server did not answer in time."""


class ExecProtocolError(ExecError):
    """The server sent bytes that break the protocol."""


class ExecRefused(ExecError):
    """The server answered with ERROR: ``code`` says why (see docs/reference/protocol/exec.md)."""

    def __init__(self, code: str, message: str, *, fatal: bool) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.fatal = fatal


class AuthFailed(ExecRefused):
    """Wrong or missing token."""


class Busy(ExecRefused):
    """Every slot stayed busy (or the queue was full)."""


def refusal(error: Error) -> ExecRefused:
    classes: dict[str, type[ExecRefused]] = {
        ExecErrorCode.AUTH_FAILED: AuthFailed, ExecErrorCode.BUSY: Busy,
    }
    cls = classes.get(error.code, ExecRefused)
    return cls(error.code, error.message, fatal=error.fatal)


@dataclass(frozen=True)
class ExecResult:
    """How a remote command ended, and its output if captured."""

    pid: int
    status: int | None
    signal: str | None
    reason: Reason
    elapsed: float
    stdout_bytes: int
    stderr_bytes: int
    stdout: bytes = b""
    stderr: bytes = b""
    timeout: float = math.inf
    output_limit: int = 0

    @property
    def exit_code(self) -> int:
        """What ``netlab exec run`` exits with: the status, 128+signal, 124/125 for limits."""
        if self.reason is Reason.TIMEOUT:
            return EXIT_TIMEOUT
        if self.reason is Reason.OUTPUT_LIMIT:
            return EXIT_OUTPUT_LIMIT
        if self.status is not None:
            return self.status
        try:
            return 128 + signal.Signals[self.signal or ""].value
        except KeyError:
            return 128

    def describe(self) -> str | None:
        """A line for the user when the command did not simply exit."""
        how = f" ({self.signal})" if self.signal else ""
        if self.reason is Reason.TIMEOUT:
            return f"command killed after its time limit of {self.timeout:g} s{how}"
        if self.reason is Reason.OUTPUT_LIMIT:
            return f"command killed: output over {self.output_limit} bytes{how}"
        if self.reason is Reason.SHUTDOWN:
            return f"command killed: the server shut down{how}"
        if self.reason is Reason.CANCELLED:
            return f"command cancelled{how}"
        if self.reason is Reason.SIGNAL:
            return f"command died of {self.signal}"
        return None


async def _call(callback: OutputCallback | None, data: bytes) -> None:
    if callback is not None:
        result = callback(data)
        if inspect.isawaitable(result):
            await result


async def _chunks(source: StdinSource) -> AsyncIterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), STDIN_CHUNK):
            yield bytes(view[start : start + STDIN_CHUNK])
        return
    async for data in source:
        view = memoryview(data)
        for start in range(0, len(view), STDIN_CHUNK):
            yield bytes(view[start : start + STDIN_CHUNK])


class ExecClient:
    """A connection to an exec server (after the preface)."""

    def __init__(self, stream: trio.abc.Stream, *, token: str,
                 response_timeout: float = 30.0) -> None:
        self.stream = stream
        self.token = token
        self.response_timeout = response_timeout
        self.proto = ExecConnection(Role.CLIENT)
        self._send_lock = trio.Lock()
        self._usable = True
        self._captured: dict[type, bytearray] = {}
        self._failure: ExecError | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, host: str, port: int, *, token: str, connect_timeout: float = 5.0,
        response_timeout: float = 30.0,
    ) -> AsyncIterator[ExecClient]:
        """Connect (retrying until ``connect_timeout``), send the preface, yield a client."""
        stream = await _open_stream(host, port, connect_timeout)
        client = cls(stream, token=token, response_timeout=response_timeout)
        try:
            await client._send_bytes(encode_preface("exec"))
            yield client
        finally:
            await trio.aclose_forcefully(stream)

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)

    # -- running a command ------------------------------------------------------
    async def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        stdin: StdinSource | None = None,
        on_stdout: OutputCallback | None = None,
        on_stderr: OutputCallback | None = None,
        on_started: Callable[[int], object] | None = None,
        on_queued: Callable[[int], object] | None = None,
        capture: bool = True,
        cancel: trio.Event | None = None,
    ) -> ExecResult:
        """Run ``command`` remotely; stream its output; return how it ended.

        Setting ``cancel`` asks the server to kill the command (CANCEL): the
        run then ends with reason ``cancelled`` (or :class:`ExecRefused`
        ``cancelled`` if it was still waiting for a slot), and the
        connection stays usable.

        ``stdin`` (bytes or an async iterable of bytes) is sent to the
        command, then its end; without it the command's stdin is empty.
        Raises :class:`ExecRefused` (``AuthFailed``, ``Busy``...) if the
        command did not start, :class:`ExecTimeout`, :class:`ExecConnectionError`
        or :class:`ExecProtocolError`.
        """
        if not self._usable:
            raise ExecConnectionError("connection unusable after an interrupted run or error")
        self._usable = False  # until this run ends cleanly
        await self._send(Run(command, self.token, timeout, stdin is not None))
        self._captured = {Stdout: bytearray(), Stderr: bytearray()}
        self._failure = None
        result: ExecResult | None = None
        # Errors are kept out of the nursery so callers see them plain, not grouped.
        async with trio.open_nursery() as nursery:
            if cancel is not None:
                nursery.start_soon(self._cancel_on, cancel)
            try:
                result = await self._receive_run(nursery, stdin, on_stdout, on_stderr,
                                                 on_started, on_queued, capture)
            except ExecError as exc:
                self._failure = self._failure or exc
            nursery.cancel_scope.cancel()  # the STDIN feeder, between frames
        if self._failure is not None:
            raise self._failure
        assert result is not None
        self._usable = True
        return result

    async def _receive_run(
        self,
        nursery: trio.Nursery,
        stdin: StdinSource | None,
        on_stdout: OutputCallback | None,
        on_stderr: OutputCallback | None,
        on_started: Callable[[int], object] | None,
        on_queued: Callable[[int], object] | None,
        capture: bool,
    ) -> ExecResult:
        started: Started | None = None
        deadline = trio.current_time() + self.response_timeout
        while True:
            event = await self._next_event(deadline)
            if isinstance(event, Stdout | Stderr):
                if capture:
                    self._captured[type(event)] += event.data
                await _call(on_stdout if isinstance(event, Stdout) else on_stderr, event.data)
            elif isinstance(event, Queued):
                deadline = trio.current_time() + event.timeout + self.response_timeout
                if on_queued is not None:
                    on_queued(event.position)
            elif isinstance(event, Started):
                started = event
                deadline = trio.current_time() + event.timeout + self.response_timeout
                if on_started is not None:
                    on_started(event.pid)
                if stdin is not None:
                    nursery.start_soon(self._feed, stdin)
            elif isinstance(event, Exit):
                assert started is not None  # the protocol allows EXIT only after STARTED
                return ExecResult(
                    pid=started.pid, status=event.status, signal=event.signal,
                    reason=event.reason, elapsed=event.elapsed,
                    stdout_bytes=event.stdout_bytes, stderr_bytes=event.stderr_bytes,
                    stdout=bytes(self._captured[Stdout]), stderr=bytes(self._captured[Stderr]),
                    timeout=started.timeout, output_limit=started.output_limit,
                )
            elif isinstance(event, Error):
                if not event.fatal:
                    self._usable = True
                raise refusal(event)

    async def _cancel_on(self, event: trio.Event) -> None:
        await event.wait()
        if self.proto.state in (State.REQUESTED, State.RUNNING):
            try:
                await self._send(Cancel())
            except ExecError as exc:
                self._failure = self._failure or exc

    async def _feed(self, source: StdinSource) -> None:
        """Send ``source`` as STDIN frames, then STDIN_EOF, while the command runs."""
        try:
            async for chunk in _chunks(source):
                if self.proto.state is not State.RUNNING:
                    return
                await self._send(Stdin(chunk))
            if self.proto.state is State.RUNNING:
                await self._send(StdinEof())
        except ExecError as exc:
            self._failure = self._failure or exc

    # -- bytes ------------------------------------------------------------------
    async def _send(self, event: Event) -> None:
        await self._send_bytes(self.proto.send(event))

    async def _send_bytes(self, data: bytes) -> None:
        # Shielded: a frame cut in half by a cancellation would corrupt the stream.
        async with self._send_lock:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(self.response_timeout) as scope:
                    try:
                        await self.stream.send_all(data)
                    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                        self._usable = False
                        raise ExecConnectionError(f"connection lost: {exc}") from None
        if scope.cancelled_caught:
            self._usable = False
            raise ExecTimeout(f"server did not read for {self.response_timeout:g} s")

    async def _next_event(self, deadline: float) -> Event:
        while True:
            try:
                event = self.proto.next_event()
            except ProtocolError as exc:
                raise ExecProtocolError(str(exc)) from None
            if event is CLOSED:
                raise ExecConnectionError("the server closed the connection")
            if event is not NEED_DATA:
                return event
            with trio.move_on_at(deadline) as scope:
                try:
                    data = await self.stream.receive_some(RECEIVE_SIZE)
                except trio.BrokenResourceError as exc:
                    raise ExecConnectionError(f"connection lost: {exc}") from None
            if scope.cancelled_caught:
                raise ExecTimeout("the server did not answer in time")
            self.proto.receive_data(bytes(data))


async def _open_stream(host: str, port: int, connect_timeout: float) -> trio.SocketStream:
    """Connect, retrying refused connections until ``connect_timeout`` (a server starting)."""
    try:
        return await connect_with_retry(host, port, UNTIL_UP, connect_timeout=connect_timeout,
                                        give_up_after=connect_timeout)
    except ConnectFailed as exc:
        raise ExecConnectionError(str(exc)) from exc


open_exec = ExecClient.connect

__all__ = [
    "AuthFailed",
    "Busy",
    "ExecClient",
    "ExecConnectionError",
    "ExecError",
    "ExecProtocolError",
    "ExecRefused",
    "ExecResult",
    "ExecTimeout",
    "open_exec",
]
