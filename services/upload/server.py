"""The upload server: tells netlab clients from tutorial clients, serves both, sweeps partials.

Resource handling: the server owns its :class:`Store` and the task that
deletes expired partial uploads; both live exactly as long as :meth:`run`.
Each connection's handler owns its stream (closed by ``serve``) and any
staging file it opened (see the sessions).

Error handling: every failure of one connection is caught and logged by the
runtime's server skeleton (:mod:`services.runtime.server`); nothing one
client does reaches another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from services.runtime.acks import ack_now, delay_acks
from services.runtime.connection import PeerConnection
from services.runtime.logs import log_event
from services.runtime.server import Task
from services.runtime.sniff import SniffingServer
from services.upload.classic_session import ClassicSession
from services.upload.config import UploadConfig
from services.upload.context import ServerContext
from services.upload.events import Error, UploadErrorCode
from services.upload.protocol import Role, UploadConnection
from services.upload.session import NetlabSession
from services.upload.storage import Store

SERVICE = "upload"


class UploadServer(SniffingServer[UploadConfig, ServerContext]):
    """One upload server: its sessions, its store and the sweeper of expired partials."""

    service = SERVICE
    context_type = ServerContext

    @property
    def store(self) -> Store:
        return self.ctx.store

    async def prepare(self) -> None:
        await self.store.open()
        if self.store.replaced_staging:
            self.counters.error("staging-replaced")
            log_event(self.logger, "staging-replaced", level=logging.WARNING,
                      path=self.store.staging,
                      error="not a directory (a link?): replaced, nothing it pointed to touched")
        log_event(self.logger, "store", root=self.store.root, quota=self.config.quota,
                  min_free_space=self.config.min_free_space,
                  max_file_size=self.config.max_file_size, overwrite=self.config.overwrite,
                  partial_ttl=self.config.partial_ttl, data_timeout=self.config.data_timeout,
                  min_rate=self.config.min_rate,
                  transfer_memory=self.config.transfer_memory)

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve (see the skeleton); the store's directories are closed when it returns."""
        try:
            await super().run(task_status=task_status)
        finally:
            self.store.close()

    def background(self) -> Sequence[Task]:
        return (self.sweep_partials,)

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

    def setup_listener(self, listener: trio.SocketListener) -> None:
        """Accepted connections start with delayed ACKs: a tutorial client's header arrives alone.

        The header's ACK then waits until the header is read, and Nagle holds
        the client's first data until that ACK (see :mod:`services.runtime.acks`).
        """
        delay_acks(listener)

    def error_frame(self, code: str, message: str) -> bytes:
        return UploadConnection(Role.SERVER).send(Error(code, message, fatal=True))

    async def refuse(self, conn: PeerConnection) -> None:
        """Past ``max_clients``: an ERROR frame (a tutorial client reads it as not ``true``)."""
        await conn.stream.send_all(self.error_frame(UploadErrorCode.BUSY, "too many clients"))

    async def serve_netlab(self, conn: PeerConnection, rest: bytes) -> None:
        ack_now(conn.stream)  # the preface is read: no reason to delay its ACK any more
        await NetlabSession(self.ctx, conn).run(rest)

    async def serve_classic(self, conn: PeerConnection, first: bytes) -> None:
        await ClassicSession(self.ctx, conn).run(first)
