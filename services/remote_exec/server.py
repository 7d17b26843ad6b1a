"""The exec server: tells netlab clients from tutorial clients and serves both.

Resource handling: each connection's handler owns its stream (closed by
``serve``) and the process group of the command it runs (see
:mod:`services.remote_exec.process`): no command outlives its connection.

Error handling: every failure of one connection is caught and logged by the
runtime's server skeleton (:mod:`services.runtime.server`); nothing one
client does reaches another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import trio

from services.remote_exec.classic_session import ClassicSession
from services.remote_exec.config import ExecConfig
from services.remote_exec.context import ServerContext
from services.remote_exec.events import Error, ExecErrorCode
from services.remote_exec.process import become_subreaper
from services.remote_exec.protocol import ExecConnection, Role
from services.remote_exec.sandbox import set_not_dumpable
from services.remote_exec.session import NetlabSession
from services.runtime.connection import PeerConnection
from services.runtime.logs import log_event
from services.runtime.server import Task
from services.runtime.sniff import SNIFF_SIZE, SniffingServer

SERVICE = "exec"
REFUSE_SNIFF_TIMEOUT = 0.5


class ExecServer(SniffingServer[ExecConfig, ServerContext]):
    """One exec server: its sessions, its refuse answer, its subreaper."""

    service = SERVICE
    context_type = ServerContext

    async def prepare(self) -> None:
        subreaper = self.config.subreaper and become_subreaper()
        # Not dumpable: no process of another uid may ptrace us or read /proc/PID/{mem,environ}.
        dumpable = not set_not_dumpable()
        if self.ctx.uid_pool is not None:
            log_event(self.logger, "sandbox", sandbox="on", uids=self.config.sandbox_uids,
                      switch=self.ctx.uid_pool.setpriv or "fork", dumpable=dumpable)
        else:
            log_event(self.logger, "sandbox", level=logging.WARNING, sandbox="off",
                      reason=self.ctx.sandbox_off, dumpable=dumpable,
                      note="commands run as the server's uid; setsid escapes the group kill")
        log_event(self.logger, "exec-config", shell=self.config.shell,
                  max_concurrent=self.config.max_concurrent,
                  command_timeout=self.config.command_timeout,
                  output_limit=self.config.output_limit, classic=self.config.classic,
                  subreaper=subreaper)
        if self.config.classic:
            log_event(self.logger, "classic-mode-on", level=logging.WARNING,
                      note="tutorial clients run commands without a token")

    def error_frame(self, code: str, message: str) -> bytes:
        return ExecConnection(Role.SERVER).send(Error(code, message, fatal=True))

    async def refuse(self, conn: PeerConnection) -> None:
        """Past ``max_clients``: an ERROR frame, or a classic answer, saying the server is full."""
        data = b""
        with trio.move_on_after(REFUSE_SNIFF_TIMEOUT):
            data = bytes(await conn.stream.receive_some(SNIFF_SIZE))
        if data[:1] == b"\x00" or not self.config.classic:
            await conn.stream.send_all(self.error_frame(ExecErrorCode.BUSY, "too many clients"))
        elif data:
            message = b"netlab: busy: too many clients\n"
            await conn.stream.send_all(str(len(message)).encode())
            with trio.move_on_after(REFUSE_SNIFF_TIMEOUT):
                if await conn.stream.receive_some(SNIFF_SIZE):
                    await conn.stream.send_all(message)

    def background(self) -> Sequence[Task]:
        """Ends the running commands once shutdown leaves them no more time; keeps a standby."""
        tasks: list[Task] = [partial(self.ctx.running.stop_at_shutdown, self.lifecycle,
                                     self.ctx.shutdown_delay)]
        if self.ctx.standby is not None:
            tasks.append(partial(self.ctx.standby.run, self.lifecycle))
        return tasks

    async def serve_netlab(self, conn: PeerConnection, rest: bytes) -> None:
        self.ctx.count("netlab_connections")
        await NetlabSession(self.ctx, conn).run(rest)

    async def serve_classic(self, conn: PeerConnection, first: bytes) -> None:
        self.ctx.count("classic_connections")
        await ClassicSession(self.ctx, conn).run(first)
