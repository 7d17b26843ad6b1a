"""One netlab-mode connection: RUN after RUN, each streamed to its EXIT.

Resource handling: the session owns, per RUN, a task watching the client
(STDIN, STDIN_EOF, CANCEL, EOF) and the command's process group (see
:mod:`services.remote_exec.runner`); both end before the next RUN is read.

Error handling: a protocol violation gets a fatal ERROR with its code; a
wrong token a fatal ``auth-failed``; an idle client ``idle-timeout``;
shutdown ``shutting-down``. A client that leaves or resets mid-command has
its command's group killed; transport failures reach the server's handler.
"""

from __future__ import annotations

import logging
import math

import trio

from services.remote_exec.config import TOKEN_HINT
from services.remote_exec.context import ServerContext, describe_command
from services.remote_exec.events import (
    Cancel,
    Error,
    Event,
    ExecErrorCode,
    Exit,
    Queued,
    Run,
    Started,
    Stderr,
    Stdin,
    StdinEof,
    Stdout,
)
from services.remote_exec.outcome import Limits, Stop
from services.remote_exec.policy import NoSlot, peer_address, token_matches
from services.remote_exec.protocol import ExecConnection, Role
from services.remote_exec.runner import CommandRun, Stream
from services.remote_exec.stdin import StdinBuffer
from services.remote_exec.stopper import Stopper
from services.runtime.connection import PeerConnection
from services.runtime.errors import PeerTimeout, RuntimeFailure
from services.runtime.logs import log_event
from services.wire.errors import RemoteProtocolError
from services.wire.sentinels import Closed

RECEIVE_SIZE = 256 * 1024


class NetlabSession:
    """Serves one netlab client (after its preface)."""

    def __init__(self, ctx: ServerContext, conn: PeerConnection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.proto = ExecConnection(Role.SERVER)
        self._waiting: trio.CancelScope | None = None  # the wait for a slot, if waiting
        self._client_error: RemoteProtocolError | None = None

    async def run(self, rest: bytes) -> None:
        """Serve until the client leaves, breaks the protocol or the server shuts down."""
        if rest:
            self.proto.receive_data(rest)
        await self._serve()

    async def _serve(self) -> None:
        try:
            while True:
                event: Event | None = None
                with self.ctx.idle_waits.idle():
                    event = await self._next_event()
                if self.ctx.lifecycle.is_draining:
                    self._fatal(ExecErrorCode.SHUTTING_DOWN, "the server is shutting down")
                    return
                if event is None:
                    return
                # The protocol allows nothing but RUN here (in-flight frames are dropped).
                assert isinstance(event, Run)
                if not await self._serve_run(event):
                    return
        except RemoteProtocolError as exc:
            self.ctx.counters.error(exc.code)
            log_event(self.ctx.logger, "protocol-error", level=logging.WARNING,
                      peer=self.conn.peer, code=exc.code, error=exc.message)
            self._fatal(exc.code, exc.message)
        except PeerTimeout as exc:
            self._fatal(ExecErrorCode.IDLE_TIMEOUT, str(exc))
            raise

    def _fatal(self, code: str, message: str) -> None:
        """Queue a fatal ERROR (best effort: the connection is ending anyway)."""
        self.conn.send_nowait(self.proto.send(Error(code, message, fatal=True)))

    async def _send(self, event: Event) -> None:
        await self.conn.send(self.proto.send(event))

    async def _send_control(self, event: Started | Exit) -> None:
        """A small frame of a command's life: queued at once unless the queue is full."""
        data = self.proto.send(event)
        if not self.conn.send_nowait(data):
            await self.conn.send(data)

    async def _next_event(self, timeout: float | None = None) -> Event | None:
        """The client's next event; None when it has closed its side."""
        event = await self.conn.next_event(self.proto, RECEIVE_SIZE, timeout=timeout)
        return None if isinstance(event, Closed) else event

    # -- one RUN -------------------------------------------------------------
    async def _serve_run(self, run: Run) -> bool:
        """Answer one RUN; False when the connection must end."""
        config = self.ctx.config
        throttle = self.ctx.auth_throttle
        address = peer_address(self.conn.peer)
        if (left := throttle.blocked_for(address)) > 0:
            self.ctx.count("auth_throttled")
            self.ctx.counters.error("auth-throttled")
            log_event(self.ctx.logger, "auth-throttled", level=logging.WARNING,
                      peer=self.conn.peer, retry_in=f"{left:.0f}")
            self._fatal(ExecErrorCode.AUTH_FAILED,
                        f"too many wrong tokens from {address}: refused for {left:.0f} s more")
            return False
        if not token_matches(config.token, run.token):
            self.ctx.count("auth_failed")
            blocked = throttle.failed(address)
            log_event(self.ctx.logger, "auth-failed", level=logging.WARNING, peer=self.conn.peer,
                      blocked=blocked)
            self._fatal(ExecErrorCode.AUTH_FAILED, f"wrong or missing token: {TOKEN_HINT}")
            return False
        if not run.command.strip() or "\x00" in run.command:
            self.ctx.count("commands_refused")
            await self._send(Error(ExecErrorCode.BAD_COMMAND, "empty command or NUL byte"))
            return True
        stopper = Stopper()
        stdin = StdinBuffer() if run.stdin else None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_client, stopper, stdin)
            try:
                go_on = await self._admit_and_run(run, stopper, stdin)
            finally:
                nursery.cancel_scope.cancel()
                if stdin is not None:
                    stdin.finish()
        if self._client_error is not None:
            raise self._client_error
        return go_on

    async def _admit_and_run(
        self, run: Run, stopper: Stopper, stdin: StdinBuffer | None
    ) -> bool:
        config = self.ctx.config
        admission = self.ctx.admission

        async def queued(position: int) -> None:
            self.ctx.count("commands_queued")
            log_event(self.ctx.logger, "queued", peer=self.conn.peer, position=position)
            await self._send(Queued(position, config.queue_timeout))

        acquired = False
        try:
            with self.ctx.idle_waits.idle() as self._waiting:
                await admission.acquire(config.queue_timeout, queued)
                acquired = True
        except NoSlot as exc:
            self.ctx.count("commands_refused")
            self.ctx.count("refused_busy")
            log_event(self.ctx.logger, "busy", peer=self.conn.peer, error=exc)
            await self._send(Error(ExecErrorCode.BUSY, str(exc)))
            return True
        finally:
            self._waiting = None
        try:
            if not acquired or stopper.reason is not None:
                return self._not_started(stopper)
            timeout = min(run.timeout or math.inf, config.command_timeout)
            return await self._run(run, Limits(timeout, config.output_limit), stopper, stdin)
        finally:
            if acquired:
                admission.release()

    def _not_started(self, stopper: Stopper) -> bool:
        """The wait for a slot was cut short: by CANCEL, by the client leaving, by shutdown."""
        if stopper.reason is Stop.CANCELLED:
            self.ctx.count("commands_cancelled_queued")
            self.conn.send_nowait(self.proto.send(Error(ExecErrorCode.CANCELLED, "cancelled")))
            return True
        if stopper.reason is None:  # shutdown
            self._fatal(ExecErrorCode.SHUTTING_DOWN, "the server is shutting down")
        return False

    async def _run(
        self, run: Run, limits: Limits, stopper: Stopper,
        stdin: StdinBuffer | None,
    ) -> bool:
        async def started(pid: int) -> None:
            self.ctx.count("commands_started")
            log_event(self.ctx.logger, "run", peer=self.conn.peer, pid=pid,
                      command=describe_command(run.command))
            await self._send_control(Started(pid, limits.timeout, limits.output_limit))

        async def sink(which: Stream, data: bytes) -> None:
            await self._send(Stdout(data) if which is Stream.STDOUT else Stderr(data))

        command = CommandRun(self.ctx, run.command, limits=limits, sink=sink, stopper=stopper,
                             stdin=stdin)
        try:
            outcome = await command.run(started)
        except OSError as exc:
            self.ctx.count("spawn_failed")
            log_event(self.ctx.logger, "spawn-failed", level=logging.ERROR, peer=self.conn.peer,
                      error=exc)
            await self._send(Error(ExecErrorCode.SPAWN_FAILED, f"cannot start the shell: {exc}"))
            return True
        self.ctx.record(outcome, peer=self.conn.peer, mode="netlab")
        if outcome.stop is Stop.DISCONNECTED:
            return False
        await self._send_control(Exit(
            status=outcome.status, signal=outcome.signal, reason=outcome.reason,
            elapsed=outcome.elapsed, stdout_bytes=outcome.stdout_bytes,
            stderr_bytes=outcome.stderr_bytes,
        ))
        return True

    # -- the client, while a RUN is queued or running ---------------------------
    def _stop(self, stopper: Stopper, reason: Stop) -> None:
        stopper.stop(reason)
        if self._waiting is not None:
            self._waiting.cancel()

    async def _watch_client(
        self, stopper: Stopper, stdin: StdinBuffer | None
    ) -> None:
        """Forward STDIN, act on CANCEL; the client leaving ends the command."""
        try:
            while True:
                # No idle limit: the command's own time limit bounds this wait.
                event = await self._next_event(timeout=math.inf)
                if event is None:
                    self._stop(stopper, Stop.DISCONNECTED)
                    return
                if isinstance(event, Cancel):
                    self._stop(stopper, Stop.CANCELLED)
                elif isinstance(event, Stdin) and stdin is not None:
                    # Waits only past the buffer's byte bound: CANCEL/EOF behind it are seen.
                    await stdin.put(event.data)
                elif isinstance(event, StdinEof) and stdin is not None:
                    stdin.close()
        except RemoteProtocolError as exc:
            self._client_error = exc
            self._stop(stopper, Stop.DISCONNECTED)
        except RuntimeFailure:
            self._stop(stopper, Stop.DISCONNECTED)
