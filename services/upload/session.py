"""Serving one netlab-mode connection: the Trio glue around :class:`UploadConnection`.

Resource handling: an upload's staging file is owned by :meth:`NetlabSession._put`
from admission to commit; whatever happens (disconnect, timeout, protocol
error, shutdown cancelling us), it is closed and its data kept for a resume,
or deleted when it can never be stored (bad hash or size). A download's file
descriptor is closed in the same way.

Error handling: refusals (:class:`Refused`, :class:`CommitError`) are answered
with ERROR and the connection goes on. Protocol errors, timeouts and
shutdown get a last ERROR and end the connection. Transport failures
(:class:`RuntimeFailure`) propagate to the server's handler, which logs them.
A disk-full error deletes the partial at once (a full disk must not stay full).

One request at a time: bytes received after a request (or an upload's END)
and before its answer are a request sent ahead of time, refused with a fatal
``unexpected-message`` before the answer.

Handshake: the first request (PUT, LIST, STAT, GET) must be complete within
``handshake_timeout`` seconds of the preface, however its bytes trickle in, or
the client gets ``timeout`` and is closed (counted as ``handshake-timeout``);
later requests wait up to ``idle_timeout`` for each receive, as before.

Slots: an upload holds its slot only while data flows: a pause of
``data_timeout`` seconds ends it with ``timeout`` (its bytes kept), and so
does an average below ``min_rate`` bytes per second (:class:`UploadPace`),
so a byte sent just within each ``data_timeout`` cannot keep a slot. At
shutdown an upload may receive for half the grace period; then what it
received is written and the client gets ``shutting-down`` before the
connection is released.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from typing import NoReturn

import trio

from services.runtime.connection import PeerConnection, collapse
from services.runtime.errors import HandshakeTimeout, PeerClosed, PeerTimeout, RuntimeFailure
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
from services.upload.memory import NoMemory
from services.upload.pace import DataTimeout, SlowUpload, UploadPace
from services.upload.partial import CommitError, PartialFile
from services.upload.protocol import Role, UploadConnection, wire_code
from services.upload.sink import open_sink
from services.upload.storage import DISK_FULL, Refused
from services.wire.errors import RemoteProtocolError
from services.wire.frames import MAX_JSON_PAYLOAD
from services.wire.sentinels import CLOSED, Closed

LISTING_BATCH = MAX_JSON_PAYLOAD // 2
LOGGED_NAME = 300  # characters of a refused name a log line keeps


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
        name = fields.get("name")
        if isinstance(name, str) and len(name) > LOGGED_NAME:  # a request's name: any length
            fields["name"] = name[:LOGGED_NAME] + "…"
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
            if isinstance(exc, DataTimeout):
                self._farewell(Error(UploadErrorCode.TIMEOUT, f"upload stalled: {exc}"))
            elif isinstance(exc, (SlowUpload, HandshakeTimeout)):
                self._farewell(Error(UploadErrorCode.TIMEOUT, str(exc)))
            elif isinstance(exc, PeerTimeout):
                self._farewell(Error(UploadErrorCode.IDLE_TIMEOUT, str(exc)))
            raise exc from None

    async def _serve_requests(self) -> None:
        # One deadline for the whole first request (see ``ctx.next_request``).
        handshake: float | None = trio.current_time() + self.ctx.config.handshake_timeout
        while True:
            if self.ctx.lifecycle.is_draining:
                self._farewell(Error(UploadErrorCode.SHUTTING_DOWN, "server is shutting down"))
                return
            event: Event | Closed | None = None
            with self.ctx.idle_waits.idle():
                event = await self.ctx.next_request(
                    self.conn, self.proto, handshake, "first request")
            handshake = None  # later requests: the idle timeout alone
            if event is None:
                continue  # interrupted by draining: the loop says goodbye
            if event is CLOSED:
                return
            if (early := self.proto.early_bytes()) is not None:
                raise early  # a request sent before the answer to this one
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

    async def _send(self, event: Event) -> None:
        await self.conn.send(self.proto.send(event))

    def _farewell(self, event: Error) -> None:
        """Queue a last (fatal) ERROR if the protocol still allows one (the session flushes it)."""
        try:
            data = self.proto.send(replace(event, fatal=True))
        except Exception:
            return
        self.conn.send_nowait(data)

    async def _refuse(self, code: str, message: str, **fields: object) -> None:
        self._log("refused", level=logging.WARNING, code=code, error=message, **fields)
        await self._send(Error(code, message))

    # -- uploads -----------------------------------------------------------------
    async def _put(self, put: Put) -> None:
        ctx = self.ctx
        if ctx.lifecycle.is_draining:  # the answer is the session's last word
            ctx.count("uploads_refused")
            self._log("refused", level=logging.WARNING, code=UploadErrorCode.SHUTTING_DOWN,
                      error="server is shutting down", name=put.name, size=put.size)
            self._farewell(Error(UploadErrorCode.SHUTTING_DOWN, "server is shutting down"))
            raise SessionOver("shutting down")
        try:
            partial = await ctx.store.begin(put.name, put.size, put.sha256,
                                            overwrite=put.overwrite, resume=put.resume)
        except Refused as exc:
            ctx.count("uploads_refused")
            await self._refuse(exc.code, exc.message, name=put.name, size=put.size)
            return
        if partial.offset:
            ctx.count("resumes")
        self._log("upload-start", name=partial.final.name, size=put.size, offset=partial.offset)
        started = time.monotonic()
        stored: bool | None = False
        keep = True
        try:
            await self._send(Ready(partial.offset, partial.token))
            end = await self._receive_upload(partial)
            if (early := self.proto.early_bytes()) is not None:
                raise early  # a request sent before the answer to the upload
            received_at = time.monotonic()
            name, digest = await ctx.store.commit(partial, sha256=end.sha256)
            stored = True
        except CommitError as exc:
            stored = None  # answered: neither stored nor interrupted
            ctx.count("uploads_failed")
            await self._refuse(exc.code, exc.message, name=put.name)
            return
        except OSError as exc:
            if exc.errno in DISK_FULL:
                keep = False  # kept, it would refuse every later upload until it expires
                ctx.count("partials_removed_disk_full")
            self._io_error(exc)
        finally:
            # Idempotent: closes the staging file unless committed or discarded,
            # keeping its data for a resume. Shielded: it must run on cancel too.
            with trio.CancelScope(shield=True):
                await ctx.store.release(partial, keep=keep)
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
        code = UploadErrorCode.NO_SPACE if exc.errno in DISK_FULL else UploadErrorCode.IO_ERROR
        self.ctx.counters.error(code)
        self._log(code, level=logging.ERROR, error=message)
        self._farewell(Error(code, message))
        raise SessionOver(message)

    async def _receive_upload(self, partial: PartialFile) -> End:
        """Feed DATA to the staging file until END; the END (it may carry the digest).

        If the client goes away (FIN, reset, timeout, truncated frame), is
        silent for ``data_timeout``, falls below ``min_rate`` or is cut by
        shutdown, what it sent is still written out before the failure
        propagates: every byte received is a byte the resume need not send again.
        """
        failure: Exception | None = None
        end = End()
        config = self.ctx.config
        pace = UploadPace(data_timeout=config.data_timeout, min_rate=config.min_rate,
                          due=partial.size - partial.offset)
        too_slow = False
        async with open_sink(self.ctx.store.writers(partial)) as feed, \
                trio.open_nursery() as watch:
            receiving = trio.CancelScope()
            watch.start_soon(self._cut_at_shutdown, receiving)
            with receiving:
                while True:
                    try:
                        event = await self.ctx.paced_event(self.conn, self.proto, pace)
                    except (RemoteProtocolError, RuntimeFailure) as exc:
                        failure = exc
                        break
                    if isinstance(event, SlowUpload):
                        too_slow = True  # told below, with the bytes kept
                        break
                    if isinstance(event, PeerTimeout):
                        failure = event
                        break
                    if isinstance(event, Data):
                        pace.received += len(event.data)
                        await feed(event.data)
                    elif isinstance(event, End):
                        end = event
                        break
                    else:  # CLOSED: the only other thing the state machine lets through
                        failure = PeerClosed("connection closed during the upload")
                        break
            watch.cancel_scope.cancel()
        # Leaving the sink wrote every byte received.
        if receiving.cancelled_caught:
            self.ctx.count("uploads_cut_by_shutdown")
            self._farewell(Error(UploadErrorCode.SHUTTING_DOWN,
                                 f"server is shutting down; {partial.received} bytes kept"))
            raise SessionOver("shutting down")
        if too_slow:  # said after the sink is closed: then the bytes kept are known
            raise SlowUpload(
                f"upload slower than --min-rate {config.min_rate} B/s: {pace.received} bytes "
                f"in {pace.waited:.1f} s; {partial.received} bytes kept for a resume")
        if failure is not None:
            raise failure
        return end

    async def _cut_at_shutdown(self, receiving: trio.CancelScope) -> None:
        """At shutdown, stop receiving after half the grace period: the rest is for writing."""
        await self.ctx.lifecycle.draining.wait()
        await trio.sleep(self.ctx.config.grace_period / 2)
        receiving.cancel()

    # -- downloads, listing, stat --------------------------------------------------
    async def _get(self, get: Get) -> None:
        store = self.ctx.store
        try:
            download = await store.open_download(get.name)
        except Refused as exc:
            await self._refuse(exc.code, exc.message, name=get.name)
            return
        config = self.ctx.config
        try:
            if get.offset > download.size:
                await self._refuse(UploadErrorCode.BAD_OFFSET,
                                   f"offset {get.offset} beyond the size {download.size}")
                return
            try:
                async with self.ctx.memory.download(self.conn, config.download_reservation,
                                                    wait=config.memory_wait):
                    await self._send(Meta(download.name, download.size, download.sha256,
                                          get.offset))
                    self._log("download", name=download.name, size=download.size,
                              offset=get.offset)
                    await self._send_file(download.fd, get.offset, download.size)
                    await self._send(End())
            except NoMemory as exc:  # raised on entry only: nothing was sent
                self.ctx.count("downloads_refused_busy")
                await self._refuse(UploadErrorCode.BUSY, f"{exc}; try again later",
                                   name=download.name)
                return
            self.ctx.count("downloads")
        finally:
            os.close(download.fd)

    async def _send_file(self, fd: int, offset: int, size: int) -> None:
        """Send the file a chunk at a time, read only when the queue has taken the last one."""
        chunk = self.ctx.config.download_chunk
        memory = self.ctx.memory
        position = offset
        while position < size:
            want = min(chunk, size - position)
            try:
                data = await trio.to_thread.run_sync(
                    os.pread, fd, want, position, limiter=self.ctx.store.limiter
                )
            except OSError as exc:
                self._io_error(exc)
            if not data:
                self._io_error(OSError(f"file shrank to {position} bytes while being sent"))
            memory.reading(self.conn, len(data))
            await self._send(Data(data))  # waits while the queue is full
            memory.reading(self.conn, 0)
            position += len(data)

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
