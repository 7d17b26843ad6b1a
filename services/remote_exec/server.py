"""The exec server: tells netlab clients from tutorial clients and serves both.

Resource handling: each connection's handler owns its stream (closed by
``serve``) and the process group of the command it runs (see
:mod:`services.remote_exec.process`): no command outlives its connection.

Error handling: every failure of one connection is caught and logged in
:meth:`ExecServer.handle`; nothing one client does reaches another.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import trio

from services.remote_exec.classic_session import ClassicSession
from services.remote_exec.config import TOKEN_ENV, ExecConfig
from services.remote_exec.context import ServerContext
from services.remote_exec.events import Error, ExecErrorCode
from services.remote_exec.process import become_subreaper
from services.remote_exec.protocol import ExecConnection, Role
from services.remote_exec.session import NetlabSession
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import RuntimeFailure
from services.runtime.idle import IdleWaits
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import configure_logging, get_logger, log_event
from services.runtime.main import run_server
from services.runtime.serve import serve
from services.wire.errors import RemoteProtocolError
from services.wire.preface import Sniff, sniff

SERVICE = "exec"
SNIFF_SIZE = 64 * 1024
REFUSE_SNIFF_TIMEOUT = 0.5


def error_frame(code: str, message: str) -> bytes:
    """A fatal ERROR frame sent outside a conversation (bad preface, server full)."""
    return ExecConnection(Role.SERVER).send(Error(code, message, fatal=True))


class ExecServer:
    """One exec server; ``run`` serves until its lifecycle has drained."""

    def __init__(
        self,
        config: ExecConfig,
        *,
        counters: Counters | None = None,
        lifecycle: Lifecycle | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.counters = counters or Counters()
        self.lifecycle = lifecycle or Lifecycle()
        self.logger = logger or get_logger(SERVICE)
        self.ctx = ServerContext(config, self.counters, self.lifecycle, self.logger)

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on ``config.port``; report the bound port; return after shutdown."""
        subreaper = self.config.subreaper and become_subreaper()
        log_event(self.logger, "exec-config", shell=self.config.shell,
                  max_concurrent=self.config.max_concurrent,
                  command_timeout=self.config.command_timeout,
                  output_limit=self.config.output_limit, classic=self.config.classic,
                  subreaper=subreaper)
        if self.config.classic:
            log_event(self.logger, "classic-mode-on", level=logging.WARNING,
                      note="tutorial clients run commands without a token")
        await serve(self.handle, self.config, counters=self.counters, lifecycle=self.lifecycle,
                    logger=self.logger, refuse=self.refuse, task_status=task_status)

    async def refuse(self, conn: PeerConnection) -> None:
        """Past ``max_clients``: an ERROR frame, or a classic answer, saying the server is full."""
        data = b""
        with trio.move_on_after(REFUSE_SNIFF_TIMEOUT):
            data = bytes(await conn.stream.receive_some(SNIFF_SIZE))
        if data[:1] == b"\x00" or not self.config.classic:
            await conn.stream.send_all(error_frame(ExecErrorCode.BUSY, "too many clients"))
        elif data:
            message = b"netlab: busy: too many clients\n"
            await conn.stream.send_all(str(len(message)).encode())
            with trio.move_on_after(REFUSE_SNIFF_TIMEOUT):
                if await conn.stream.receive_some(SNIFF_SIZE):
                    await conn.stream.send_all(message)

    async def handle(self, conn: PeerConnection) -> None:
        """Serve one connection in the mode its first bytes announce."""
        try:
            async with conn.session(), trio.open_nursery() as nursery:
                idle_waits = IdleWaits(self.lifecycle)
                nursery.start_soon(idle_waits.watch)
                try:
                    await self._serve_connection(conn, idle_waits)
                finally:
                    nursery.cancel_scope.cancel()
        except RuntimeFailure as exc:
            self.counters.error(exc.reason)
            log_event(self.logger, "connection-error", peer=conn.peer, reason=exc.reason,
                      error=exc)

    async def _serve_connection(self, conn: PeerConnection, idle_waits: IdleWaits) -> None:
        try:
            mode, rest = await self._sniff(conn, idle_waits)
        except RemoteProtocolError as exc:  # NUL, then not our preface
            self.counters.error(exc.code)
            log_event(self.logger, "protocol-error", level=logging.WARNING,
                      peer=conn.peer, code=exc.code, error=exc.message)
            conn.send_nowait(error_frame(exc.code, exc.message))
            return
        if mode is Sniff.NETLAB:
            self.ctx.count("netlab_connections")
            await NetlabSession(self.ctx, conn, idle_waits).run(rest)
        elif mode is Sniff.OTHER:
            self.ctx.count("classic_connections")
            await ClassicSession(self.ctx, conn, idle_waits).run(rest)

    async def _sniff(self, conn: PeerConnection, idle_waits: IdleWaits) -> tuple[Sniff, bytes]:
        """The mode and the bytes after the preface; NEED_DATA if the peer left first."""
        data = b""
        while True:
            chunk = b""
            with idle_waits.idle():  # shutdown drops connections that have not spoken
                chunk = await conn.receive(SNIFF_SIZE)
            if not chunk:
                return Sniff.NEED_DATA, b""  # left without a word, or shutdown
            data += chunk
            mode, consumed = sniff(data, SERVICE)
            if mode is not Sniff.NEED_DATA:
                return mode, data[consumed:]


def read_token(token: str | None, token_file: Path | None) -> str:
    """The shared secret: from ``--token-file`` (first line) or the env var."""
    if token_file is not None:
        lines = token_file.read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else ""
    return (token or "").strip()


def run(
    *,
    host: str,
    port: int,
    token: str | None,
    token_file: Path | None,
    shell: str,
    max_concurrent: int,
    max_queued: int,
    queue_timeout: float,
    command_timeout: float,
    output_limit: int,
    classic: bool,
    classic_output_limit: int,
    kill_grace: float,
    max_clients: int,
    idle_timeout: float,
    send_timeout: float,
    grace_period: float,
    stats_port: int | None,
    log_level: str,
) -> None:
    """Run an exec server until SIGTERM/SIGINT (graceful), as ``netlab exec serve`` does."""
    config = ExecConfig(
        host=host, port=port, token=read_token(token, token_file), shell=shell,
        max_concurrent=max_concurrent, max_queued=max_queued, queue_timeout=queue_timeout,
        command_timeout=command_timeout, output_limit=output_limit, classic=classic,
        classic_output_limit=classic_output_limit, kill_grace=kill_grace,
        max_clients=max_clients, idle_timeout=idle_timeout, send_timeout=send_timeout,
        grace_period=grace_period, stats_port=stats_port, log_level=log_level,
    )
    # Read once; commands must not inherit it (and spawn faster without a copied env).
    os.environ.pop(TOKEN_ENV, None)
    configure_logging(log_level)
    server = ExecServer(config)
    trio.run(
        functools.partial(
            run_server, server.run, lifecycle=server.lifecycle, counters=server.counters,
            logger=server.logger, stats_host=host, stats_port=stats_port,
        )
    )
