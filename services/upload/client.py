"""The upload client library: ``async with open_upload(host, port) as up: await up.put(...)``.

Every call is one request on the connection (the protocol allows one at a
time). ``put`` announces the source, and sends only from the offset the
server acknowledges, so calling it again after an interruption resumes;
``put_resuming`` / ``get_resuming`` do that on fresh connections, with
backoff. A file (or a :class:`~services.upload.source.Reader`) is hashed
while its bytes flow and the digest travels in the END (see
:mod:`services.upload.source`); bytes are hashed first and the PUT declares
it. ``get`` writes to ``DEST.part``, resumes from it, verifies the SHA-256
and only then renames to ``DEST``.

Errors: :class:`UploadRefused` is the server's answer (it carries the code);
:class:`ConnectionLost` means the conversation broke (a retry may resume);
:class:`~services.upload.source.SourceChanged` that the source shrank.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from services.runtime.connection import collapse
from services.runtime.retry import UNTIL_UP, Backoff, ConnectFailed, connect_with_retry
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
from services.upload.partial import hash_fd
from services.upload.protocol import DATA_FRAME_LIMIT, Role, State, UploadConnection
from services.upload.sink import Chunk, open_sink
from services.upload.source import (
    READ_BATCH,
    Prepared,
    Reader,
    ResumeToken,
    Source,
    SourceChanged,
    UploadError,
    hash_range,
    open_reader,
    prepare,
    read_batch,
)
from services.wire.errors import ErrorCode, ProtocolError
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA

RECEIVE_SIZE = 256 * 1024
READ_AHEAD = READ_BATCH // DATA_FRAME_LIMIT  # chunks read ahead of the socket
MAX_RETRY_DELAY = 5.0  # seconds between two resume attempts, at most
RETRYABLE = frozenset({UploadErrorCode.BUSY, UploadErrorCode.SHUTTING_DOWN,
                       UploadErrorCode.IDLE_TIMEOUT, UploadErrorCode.IO_ERROR})

Progress = Callable[[int, int], None]  # (bytes done, total)

__all__ = [
    "ConnectionLost", "Prepared", "Reader", "ResumeToken", "Source", "SourceChanged",
    "UploadClient", "UploadError", "UploadRefused", "get_resuming", "open_upload", "prepare",
    "put_resuming",
]


class UploadRefused(UploadError):
    """The server answered with ERROR; ``code`` says why.

    ``fatal``: the server closed the connection after it (the ERROR said so);
    otherwise the connection is usable for the next request.
    """

    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fatal = fatal


class ConnectionLost(UploadError):
    """The connection broke, timed out or the server broke the protocol."""


class UploadClient:
    """One connection to an upload server (use :func:`open_upload`)."""

    def __init__(self, stream: trio.abc.Stream, *, timeout: float = 30.0,
                 chunk_size: int = DATA_FRAME_LIMIT) -> None:
        self.stream = stream
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.proto = UploadConnection(Role.CLIENT)

    # -- plumbing -------------------------------------------------------------
    async def _send(self, event: Event) -> None:
        await self._send_bytes(self.proto.send(event))

    async def _send_data(self, chunk: bytes | memoryview) -> None:
        await self._send_bytes(self.proto.send_data_header(len(chunk)))
        await self._send_bytes(chunk)

    async def _send_bytes(self, data: bytes | memoryview) -> None:
        with trio.move_on_after(self.timeout) as scope:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ConnectionLost(f"connection lost while sending: {exc}") from None
        if scope.cancelled_caught:
            raise ConnectionLost(f"server did not read for {self.timeout:g} s")

    async def _next(self, *, timeout: float | None = -1.0) -> Event:
        """The server's next message; ERROR raises UploadRefused.

        Each wait for bytes is bounded by ``timeout`` (default: the client's;
        None: unbounded, the caller bounds it).
        """
        limit = self.timeout if timeout == -1.0 else (math.inf if timeout is None else timeout)
        while True:
            try:
                event = self.proto.next_event()
            except ProtocolError as exc:
                raise ConnectionLost(f"server broke the protocol: {exc}") from None
            if event is CLOSED:
                raise ConnectionLost("server closed the connection")
            if event is not NEED_DATA:
                break
            with trio.move_on_after(limit) as scope:
                try:
                    data = await self.stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    raise ConnectionLost(f"connection lost: {exc}") from None
            if scope.cancelled_caught:
                raise ConnectionLost(f"no answer for {limit:g} s")
            self.proto.receive_data(bytes(data))
        if isinstance(event, Error):
            raise UploadRefused(event.code, event.message, fatal=event.fatal)
        return event

    async def _expect(self, kind: type[Event]) -> Event:
        event = await self._next()
        if not isinstance(event, kind):  # the state machine admits nothing else
            raise ConnectionLost(f"unexpected {event!r}")
        return event

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)

    # -- requests -----------------------------------------------------------------
    async def put(self, source: Source | Prepared, *, name: str | None = None,
                  overwrite: bool = False, progress: Progress | None = None) -> Stored:
        """Upload a file (path), bytes or a reader; resumes from the server's offset. STORED."""
        item = source if isinstance(source, Prepared) else await prepare(source, name=name)
        await self._send(Put(item.name, item.size, item.sha256, overwrite, item.token.value))
        ready = await self._expect(Ready)
        assert isinstance(ready, Ready)
        item.token.value = ready.resume
        if progress:
            progress(ready.offset, item.size)
        # No deadline while our bytes flow (the sender has its own); once the
        # sender is done, the answer must come within the timeout.
        answer_scope = trio.CancelScope()
        stored: Event | None = None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_body, item, ready.offset, progress, answer_scope)
                with answer_scope:
                    stored = await self._next(timeout=None)
                nursery.cancel_scope.cancel()
        except Exception as group:
            raise collapse(group) from None
        if answer_scope.cancelled_caught:
            raise ConnectionLost(f"no answer to the upload within {self.timeout:g} s")
        if not isinstance(stored, Stored):
            raise ConnectionLost(f"unexpected {stored!r}")
        return stored

    async def _send_body(self, item: Prepared, offset: int, progress: Progress | None,
                         answer_scope: trio.CancelScope) -> None:
        done = offset
        # No digest in the PUT: hash what is sent (and what the server kept), declare it at END.
        hasher = None if item.sha256 else hashlib.sha256()
        send, receive = trio.open_memory_channel[Chunk](READ_AHEAD)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_source, item, offset, hasher, send)
                async with receive:
                    async for chunk in receive:
                        if self.proto.state is not State.UPLOADING:
                            break  # the server ended the upload with an ERROR
                        await self._send_data(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, item.size)
                nursery.cancel_scope.cancel()
            if self.proto.state is State.UPLOADING:
                await self._send(End(hasher.hexdigest() if hasher is not None else ""))
        except ConnectionLost:
            pass  # the server may have closed after an ERROR: the receiver reports it
        finally:
            answer_scope.deadline = min(answer_scope.deadline,
                                        trio.current_time() + self.timeout)

    async def _read_source(self, item: Prepared, offset: int, hasher: hashlib._Hash | None,
                           send: trio.MemorySendChannel[Chunk]) -> None:
        """Read (and hash) the source in worker threads, a batch at a time, ahead of sending."""
        async with send, open_reader(item.source, item.size) as reader:
            if hasher is not None and offset:  # the bytes the server kept count in the digest
                await trio.to_thread.run_sync(hash_range, reader, hasher, offset)
            position = offset
            while position < item.size:
                length = min(READ_BATCH, item.size - position)
                for chunk in await trio.to_thread.run_sync(
                        read_batch, reader, position, length, self.chunk_size, hasher):
                    await send.send(chunk)
                position += length

    async def get(self, name: str, dest: Path | str, *,
                  progress: Progress | None = None) -> FileInfo:
        """Download ``name`` to ``dest`` (via ``dest.part``, resumed if present), verified."""
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        await self._send(Get(name, offset))
        try:
            meta = await self._expect(Meta)
        except UploadRefused as exc:
            if exc.code == UploadErrorCode.BAD_OFFSET:
                part.unlink(missing_ok=True)  # the file shrank or changed: start over
            raise
        assert isinstance(meta, Meta)
        fd = await trio.to_thread.run_sync(
            lambda: os.open(part, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        )
        try:
            hasher, have = await trio.to_thread.run_sync(hash_fd, fd, offset)
            if have != offset:
                raise ConnectionLost(f"{part} changed during the download")
            os.lseek(fd, offset, os.SEEK_SET)
            done = offset
            if progress:
                progress(done, meta.size)

            async def write(batch: list[Chunk]) -> None:
                def work() -> None:
                    for chunk in batch:
                        hasher.update(chunk)
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view):]
                await trio.to_thread.run_sync(work)

            async with open_sink([write]) as feed:
                while isinstance(event := await self._next(), Data):
                    await feed(event.data)
                    done += len(event.data)
                    if progress:
                        progress(done, meta.size)
            digest = hasher.hexdigest()
            if digest != meta.sha256:
                part.unlink(missing_ok=True)
                stale = f" (resumed from a stale {part.name}, now deleted)" if offset else ""
                raise UploadRefused(
                    UploadErrorCode.HASH_MISMATCH,
                    f"downloaded SHA-256 {digest}, server said {meta.sha256}{stale}",
                )
            await trio.to_thread.run_sync(os.fsync, fd)
        finally:
            os.close(fd)
        await trio.to_thread.run_sync(os.replace, part, dest)
        return FileInfo(meta.name, meta.size, 0.0, meta.sha256)

    async def list(self) -> list[FileInfo]:
        """The stored files, by name."""
        await self._send(ListFiles())
        files: list[FileInfo] = []
        while isinstance(event := await self._next(), Listing):
            files.extend(event.files)
        return files

    async def stat(self, name: str) -> FileInfo:
        """One stored file's size, time and SHA-256."""
        await self._send(Stat(name))
        info = await self._expect(Info)
        assert isinstance(info, Info)
        return info.file


async def connect_stream(host: str, port: int, *, connect_timeout: float) -> trio.SocketStream:
    """Connect, retrying refused connections until ``connect_timeout`` (a server starting up)."""
    try:
        return await connect_with_retry(host, port, UNTIL_UP, connect_timeout=connect_timeout,
                                        give_up_after=connect_timeout)
    except ConnectFailed as exc:
        raise ConnectionLost(str(exc)) from exc


@asynccontextmanager
async def open_upload(host: str, port: int, *, connect_timeout: float = 5.0,
                      timeout: float = 30.0) -> AsyncIterator[UploadClient]:
    """Connect to an upload server and send the preface; closes the connection on exit."""
    stream = await connect_stream(host, port, connect_timeout=connect_timeout)
    client = UploadClient(stream, timeout=timeout)
    try:
        try:
            await stream.send_all(encode_preface("upload"))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise ConnectionLost(str(exc)) from None
        yield client
    finally:
        await client.aclose()


async def _retrying(attempt: Callable[[], Awaitable[object]], retries: int,
                    backoff: float, retryable_codes: frozenset[str] = RETRYABLE) -> object:
    delays = Backoff(attempts=retries + 1, initial=backoff, max_delay=MAX_RETRY_DELAY).delays()
    while True:
        try:
            return await attempt()
        except (ConnectionLost, UploadRefused) as exc:
            retryable = isinstance(exc, ConnectionLost) or exc.code in retryable_codes
            delay = next(delays, None)
            if not retryable or delay is None:
                raise
        await trio.sleep(delay)


async def put_resuming(host: str, port: int, source: Source, *, name: str | None = None,
                       overwrite: bool = False, retries: int = 3, backoff: float = 0.2,
                       progress: Progress | None = None, timeout: float = 30.0,
                       connect_timeout: float = 5.0) -> Stored:
    """``put`` on a fresh connection, reconnecting and resuming up to ``retries`` times.

    A server older than digests at END refuses a PUT without one as
    ``bad-message``: the file is then hashed first and sent again, once.
    """
    item = await prepare(source, name=name)

    async def attempt() -> Stored:
        async with open_upload(host, port, timeout=timeout,
                               connect_timeout=connect_timeout) as up:
            return await up.put(item, overwrite=overwrite, progress=progress)

    try:
        result = await _retrying(attempt, retries, backoff)
    except UploadRefused as exc:
        if item.sha256 or exc.code != ErrorCode.BAD_MESSAGE:
            raise
        item = await prepare(source, name=name, hash_first=True)
        result = await _retrying(attempt, retries, backoff)
    assert isinstance(result, Stored)
    return result


async def get_resuming(host: str, port: int, name: str, dest: Path | str, *,
                       retries: int = 3, backoff: float = 0.2,
                       progress: Progress | None = None, timeout: float = 30.0,
                       connect_timeout: float = 5.0) -> FileInfo:
    """``get`` on a fresh connection, reconnecting and resuming up to ``retries`` times."""

    async def attempt() -> FileInfo:
        async with open_upload(host, port, timeout=timeout,
                               connect_timeout=connect_timeout) as up:
            return await up.get(name, dest, progress=progress)

    # A bad hash or offset deleted DEST.part: the next attempt starts over.
    codes = RETRYABLE | {UploadErrorCode.HASH_MISMATCH, UploadErrorCode.BAD_OFFSET}
    result = await _retrying(attempt, retries, backoff, codes)
    assert isinstance(result, FileInfo)
    return result
