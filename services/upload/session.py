"""Serving one netlab-mode connection: the Trio glue around :class:`UploadConnection`.

Resource handling: an upload's staging file is owned by :meth:`NetlabSession._put`
from admission to commit; whatever happens (disconnect, timeout, protocol
error, shutdown cancelling us), it is closed and its data kept for a resume,
or deleted when it can never be stored (bad hash or size). A download's file
descriptor is closed in the same way.

Error handling: refusals (:class:`Refused`, :class:`CommitError`) are answered
with ERROR and the connection goes on. Protocol errors, idle timeouts and
shutdown get a last ERROR and end the connection. Transport failures
(:class:`RuntimeFailure`) propagate to the server's handler, which logs them.
"""

from __future__ import annotations

import logging
import os
import time
from typing import NoReturn

import trio

from services.runtime.connection import PeerConnection, collapse
from services.runtime.errors import PeerClosed, PeerTimeout, RuntimeFailure
from services.runtime.logs import log_event
from services.upload.codec import encode_payload
from services.upload.context import ServerContext
from services.upload.events import (
    Data,
    End,
    Error,
    Event,
    FileInfo,
    Get,
    Info,
    ListFiles,
    Listing,
    Meta,
    Put,
    Ready,
    Stat,
    Stored,
    UploadErrorCode,
)
from services.upload.partial import CommitError, PartialFile
from services.upload.protocol import Role, UploadConnection, wire_code
from services.upload.sink import open_sink
from services.upload.storage import Refused
from services.wire.errors import RemoteProtocolError
from services.wire.frames import MAX_JSON_PAYLOAD
from services.wire.sentinels import CLOSED, Closed

READ_AHEAD = 2  # download chunks read ahead of the socket
LISTING_BATCH = MAX_JSON_PAYLOAD // 2


def listing_batches(files: list[FileInfo]) -> list[Listing]:
    """Split a listing into LISTING messages that each fit a control frame."""
    batches: list[Listing] = []
    current: list[FileInfo] = []
    size = 0
    for info in files:
        entry = len(encode_payload(Listing((info,))))
        if current and size + entry > LISTING_BATCH:
            batches.append(Listing(tuple(current)))
            current, size = [], 0
        current.append(info)
        size += entry
    if current or not batches:
        batches.append(Listing(tuple(current)))
    return batches


class SessionOver(Exception):
    """The session ends after a last ERROR (already queued)."""


class NetlabSession:
    """One netlab-mode client: requests one at a time until it leaves."""

    def __init__(self, ctx: ServerContext, conn: PeerConnection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.proto = UploadConnection(Role.SERVER)

    def _log(self, event: str, *, level: int = logging.INFO, **fields: object) -> None:
        log_event(self.ctx.logger, event, level=level, peer=self.conn.peer, **fields)

    async def run(self, initial: bytes) -> None:
        """Serve requests until the client closes, errs or the server drains."""
        if initial:  # b"" would mean EOF
            self.proto.receive_data(initial)
        try:
            await self._serve_requests()
        except Exception as group:
            exc = collapse(group)
            if isinstance(exc, SessionOver):
                return
            if isinstance(exc, RemoteProtocolError):
                self.ctx.counters.error(wire_code(exc))
                self._log("protocol-error", level=logging.WARNING, code=wire_code(exc),
                          error=exc.message)
                self._farewell(Error(wire_code(exc), exc.message))
                return
            if isinstance(exc, PeerTimeout):
                self._farewell(Error(UploadErrorCode.IDLE_TIMEOUT, str(exc)))
            raise exc from None

    async def _serve_requests(self) -> None:
        while True:
            if self.ctx.lifecycle.is_draining:
                self._farewell(Error(UploadErrorCode.SHUTTING_DOWN, "server is shutting down"))
                return
            event: Event | Closed | None = None
            with self.ctx.idle_waits.idle():
                event = await self._next_event()
            if event is None:
                continue  # interrupted by draining: the loop says goodbye
            if event is CLOSED:
                return
            try:
                match event:
                    case Put():
                        await self._put(event)
                    case Get():
                        await self._get(event)
                    case ListFiles():
                        await self._list()
                    case Stat(name):
                        await self._stat(name)
            except OSError as exc:  # the directory itself failed (permissions, disk)
                self._io_error(exc)

    async def _next_event(self) -> Event | Closed:
        return await self.conn.next_event(self.proto, self.ctx.config.receive_size)

    async def _send(self, event: Event) -> None:
        await self.conn.send(self.proto.send(event))

    def _farewell(self, event: Error) -> None:
        """Queue a last ERROR if the protocol still allows one (the session flushes it)."""
        try:
            data = self.proto.send(event)
        except Exception:
            return
        self.conn.send_nowait(data)

    async def _refuse(self, code: str, message: str, **fields: object) -> None:
        self._log("refused", level=logging.WARNING, code=code, error=message, **fields)
        await self._send(Error(code, message))

    # -- uploads -----------------------------------------------------------------
    async def _put(self, put: Put) -> None:
        ctx = self.ctx
        if ctx.lifecycle.is_draining:
            ctx.count("uploads_refused")
            await self._refuse(UploadErrorCode.SHUTTING_DOWN, "server is shutting down")
            return
        try:
            partial = await ctx.store.begin(put.name, put.size, put.sha256,
                                            overwrite=put.overwrite)
        except Refused as exc:
            ctx.count("uploads_refused")
            await self._refuse(exc.code, exc.message, name=put.name, size=put.size)
            return
        if partial.offset:
            ctx.count("resumes")
        self._log("upload-start", name=partial.final.name, size=put.size, offset=partial.offset)
        started = time.monotonic()
        stored: bool | None = False
        try:
            await self._send(Ready(partial.offset))
            await self._receive_upload(partial)
            received_at = time.monotonic()
            name, digest = await ctx.store.commit(partial)
            stored = True
        except CommitError as exc:
            stored = None  # answered: neither stored nor interrupted
            ctx.count("uploads_failed")
            await self._refuse(exc.code, exc.message, name=put.name)
            return
        except OSError as exc:
            self._io_error(exc)
        finally:
            # Idempotent: closes the staging file unless committed or discarded,
            # keeping its data for a resume. Shielded: it must run on cancel too.
            with trio.CancelScope(shield=True):
                await ctx.store.release(partial, keep=True)
            if stored is False:
                self._log("upload-interrupted", level=logging.WARNING,
                          name=partial.final.name, received=partial.received, size=put.size)
        ctx.count("files_stored")
        ctx.count("bytes_stored", put.size)
        now = time.monotonic()
        self._log("stored", name=name, size=put.size, sha256=digest,
                  received=put.size - partial.offset, seconds=f"{now - started:.3f}",
                  commit_seconds=f"{now - received_at:.3f}")
        await self._send(Stored(name, put.size, digest))

    def _io_error(self, exc: OSError) -> NoReturn:
        """A disk failure: tell the client (last message) and end the session."""
        message = exc.strerror or str(exc)
        self.ctx.counters.error("io-error")
        self._log("io-error", level=logging.ERROR, error=message)
        self._farewell(Error(UploadErrorCode.IO_ERROR, message))
        raise SessionOver(message)

    async def _receive_upload(self, partial: PartialFile) -> None:
        """Feed DATA to the staging file until END.

        If the client goes away (FIN, reset, timeout, truncated frame), what
        it sent is still written out before the failure propagates: every
        byte received is a byte the resume need not send again.
        """
        failure: Exception | None = None
        async with open_sink(self.ctx.store.writers(partial)) as feed:
            while True:
                try:
                    event = await self._next_event()
                except (RemoteProtocolError, RuntimeFailure) as exc:
                    failure = exc
                    break
                if isinstance(event, Data):
                    await feed(event.data)
                elif isinstance(event, End):
                    return
                else:  # CLOSED: the only other thing the state machine lets through
                    failure = PeerClosed("connection closed during the upload")
                    break
        raise failure

    # -- downloads, listing, stat --------------------------------------------------
    async def _get(self, get: Get) -> None:
        store = self.ctx.store
        try:
            download = await store.open_download(get.name)
        except Refused as exc:
            await self._refuse(exc.code, exc.message, name=get.name)
            return
        try:
            if get.offset > download.size:
                await self._refuse(UploadErrorCode.BAD_OFFSET,
                                   f"offset {get.offset} beyond the size {download.size}")
                return
            await self._send(Meta(download.name, download.size, download.sha256, get.offset))
            self._log("download", name=download.name, size=download.size, offset=get.offset)
            await self._send_file(download.fd, get.offset, download.size)
            await self._send(End())
            self.ctx.count("downloads")
        finally:
            os.close(download.fd)

    async def _send_file(self, fd: int, offset: int, size: int) -> None:
        chunk = self.ctx.config.chunk_size
        send, receive = trio.open_memory_channel[bytes](READ_AHEAD)

        async def read_ahead() -> None:
            async with send:
                position = offset
                while position < size:
                    want = min(chunk, size - position)
                    data = await trio.to_thread.run_sync(
                        os.pread, fd, want, position, limiter=self.ctx.store.limiter
                    )
                    if not data:
                        raise OSError(f"file shrank to {position} bytes while being sent")
                    await send.send(data)
                    position += len(data)

        try:
            async with trio.open_nursery() as nursery, receive:
                nursery.start_soon(read_ahead)
                async for data in receive:
                    await self._send(Data(data))
        except Exception as group:
            exc = collapse(group)
            if isinstance(exc, OSError):
                self._io_error(exc)
            raise exc from None

    async def _list(self) -> None:
        for batch in listing_batches(await self.ctx.store.list_files()):
            await self._send(batch)
        await self._send(End())

    async def _stat(self, name: str) -> None:
        try:
            info = await self.ctx.store.stat(name)
        except Refused as exc:
            await self._refuse(exc.code, exc.message, name=name)
            return
        await self._send(Info(info))
