"""The upload server: tells netlab clients from tutorial clients, serves both, sweeps partials.

Resource handling: the server owns its :class:`Store` and the task that
deletes expired partial uploads; both live exactly as long as :meth:`run`.
Each connection's handler owns its stream (closed by ``serve``) and any
staging file it opened (see the sessions).

Error handling: every failure of one connection is caught and logged in
:meth:`UploadServer.handle`; nothing one client does reaches another.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import trio

from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import RuntimeFailure
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import configure_logging, get_logger, log_event
from services.runtime.main import run_server
from services.runtime.serve import serve
from services.upload.classic_session import ClassicSession
from services.upload.config import OverwritePolicy, UploadConfig
from services.upload.context import ServerContext
from services.upload.events import Error, UploadErrorCode
from services.upload.protocol import Role, UploadConnection
from services.upload.session import NetlabSession
from services.upload.storage import Store
from services.wire.errors import RemoteProtocolError
from services.wire.preface import Sniff, sniff

SERVICE = "upload"


def error_frame(code: str, message: str) -> bytes:
    """An ERROR frame sent outside a conversation (bad preface, server full)."""
    proto = UploadConnection(Role.SERVER)
    return proto.send(Error(code, message))


class UploadServer:
    """One upload server; ``run`` serves until its lifecycle has drained."""

    def __init__(
        self,
        config: UploadConfig,
        *,
        counters: Counters | None = None,
        lifecycle: Lifecycle | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.counters = counters or Counters()
        self.lifecycle = lifecycle or Lifecycle()
        self.logger = logger or get_logger(SERVICE)
        self.store = Store(config, limiter=trio.CapacityLimiter(config.io_threads))
        self.ctx = ServerContext(config, self.store, self.counters, self.lifecycle, self.logger)

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on ``config.port``; report the bound port; return after shutdown."""
        await self.store.open()
        log_event(self.logger, "store", root=self.store.root, quota=self.config.quota,
                  max_file_size=self.config.max_file_size, overwrite=self.config.overwrite,
                  partial_ttl=self.config.partial_ttl)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sweep_partials)
            port = await nursery.start(self._serve)
            task_status.started(port)
            await self.lifecycle.stopped.wait()
            nursery.cancel_scope.cancel()

    async def _serve(self, *, task_status: trio.TaskStatus[int]) -> None:
        await serve(self.handle, self.config, counters=self.counters, lifecycle=self.lifecycle,
                    logger=self.logger, refuse=self.refuse, task_status=task_status)

    async def sweep_partials(self) -> None:
        """Delete expired partial uploads now and every ``cleanup_interval`` seconds."""
        while True:
            try:
                expired = await self.store.expire_partials()
            except OSError as exc:
                self.counters.error("io-error")
                log_event(self.logger, "sweep-error", level=logging.ERROR, error=exc)
            else:
                if expired:
                    self.ctx.count("partials_expired", len(expired))
                    log_event(self.logger, "partials-expired", count=len(expired))
            await trio.sleep(self.config.cleanup_interval)

    async def refuse(self, conn: PeerConnection) -> None:
        """Past ``max_clients``: an ERROR frame (a tutorial client reads it as not ``true``)."""
        await conn.stream.send_all(error_frame(UploadErrorCode.BUSY, "too many clients"))

    async def handle(self, conn: PeerConnection) -> None:
        """Serve one connection in the mode its first bytes announce."""
        try:
            async with conn.session():
                try:
                    mode, rest = await self._sniff(conn)
                except RemoteProtocolError as exc:  # NUL, then not our preface
                    self.counters.error(exc.code)
                    log_event(self.logger, "protocol-error", level=logging.WARNING,
                              peer=conn.peer, code=exc.code, error=exc.message)
                    conn.send_nowait(error_frame(exc.code, exc.message))
                    return
                if mode is Sniff.NETLAB:
                    await NetlabSession(self.ctx, conn).run(rest)
                elif mode is Sniff.OTHER:
                    await ClassicSession(self.ctx, conn).run(rest)
        except RuntimeFailure as exc:
            self.counters.error(exc.reason)
            log_event(self.logger, "connection-error", peer=conn.peer, reason=exc.reason,
                      error=exc)
        except OSError as exc:
            self.counters.error("io-error")
            log_event(self.logger, "io-error", level=logging.ERROR, peer=conn.peer, error=exc)

    async def _sniff(self, conn: PeerConnection) -> tuple[Sniff, bytes]:
        """The mode and the bytes after the preface; NEED_DATA if the peer left first."""
        data = b""
        while True:
            chunk = await conn.receive(self.config.receive_size)
            if not chunk:
                return Sniff.NEED_DATA, b""  # connected and left without a word
            data += chunk
            mode, consumed = sniff(data, SERVICE)
            if mode is not Sniff.NEED_DATA:
                return mode, data[consumed:]


def run(
    *,
    host: str,
    port: int,
    root: Path,
    max_file_size: int,
    quota: int | None,
    partial_ttl: float,
    cleanup_interval: float,
    overwrite: str,
    max_uploads: int,
    max_clients: int,
    idle_timeout: float,
    send_timeout: float,
    grace_period: float,
    stats_port: int | None,
    log_level: str,
) -> None:
    """Run an upload server until SIGTERM/SIGINT (graceful), as ``netlab upload serve`` does."""
    config = UploadConfig(
        host=host, port=port, root=root, max_file_size=max_file_size, quota=quota,
        partial_ttl=partial_ttl, cleanup_interval=cleanup_interval,
        overwrite=OverwritePolicy(overwrite), max_uploads=max_uploads,
        max_clients=max_clients, idle_timeout=idle_timeout, send_timeout=send_timeout,
        grace_period=grace_period, stats_port=stats_port, log_level=log_level,
    )
    configure_logging(log_level)
    server = UploadServer(config)
    trio.run(
        functools.partial(
            run_server, server.run, lifecycle=server.lifecycle, counters=server.counters,
            logger=server.logger, stats_host=host, stats_port=stats_port,
        )
    )
