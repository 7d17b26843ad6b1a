"""A fleet's upload clients: files of chosen sizes, seeded content, declared SHA-256.

File ``j`` of client ``i`` (op id ``{process}/{j}``) is named
``{fleet}-upload{i}-{j}-s{seed}.bin`` and holds bytes drawn from a generator
seeded by the fleet's seed and that name, so a replay uploads the very same
bytes. Ops: ``invoke put {"op", "name", "size", "sha256"}``, ``info
progress`` at READY (its ``offset`` is where the server resumes) and about
every 10 %, then ``ok put`` (STORED), ``fail put`` (ERROR) or ``info put``
(the connection broke: outcome unknown).

With ``resume``, a broken upload (or one refused with a transient code:
``timeout``, ``busy``, ``shutting-down``...) is retried on a new connection
after a backoff (bounded), presenting the server's resume token, recorded
as ``invoke resume {"op", "name"}``; the server answers from its offset.

Resource handling: one connection at a time, closed when the client is done
or the connection is lost. ``pace`` wraps the socket in :class:`PacedStream`.
"""

from __future__ import annotations

import hashlib
import random

import trio

from lab.fleet.record import CONNECT_TIMEOUT, RECONNECT, ProcessLog, describe, guarded
from lab.fleet.spec import UploadSpec
from services.runtime.retry import Backoff
from services.upload.client import (
    RETRYABLE,
    ConnectionLost,
    Prepared,
    UploadClient,
    UploadError,
    UploadRefused,
    connect_stream,
)
from services.upload.events import UploadErrorCode
from services.upload.protocol import DATA_FRAME_LIMIT
from services.wire.preface import encode_preface

# Resumes until about 26 s after the break: a server that has not yet seen the old
# connection die answers busy until its --data-timeout (20 s by default) frees it.
RESUMES = Backoff(attempts=10, initial=0.2, factor=2.0, max_delay=5.0)
RESUMABLE = RETRYABLE | {UploadErrorCode.TIMEOUT}
REQUEST_TIMEOUT = 15.0
MIN_CHUNK = 16 * 1024
PACE_STEPS = 20  # a paced stream sends at most 1/20 of a second's bytes at once


def file_name(fleet: str, index: int, j: int, seed: int) -> str:
    return f"{fleet}-upload{index}-{j}-s{seed}.bin"


def file_content(seed: int, name: str, size: int) -> bytes:
    """The bytes of file ``name``: the same for the same seed."""
    return random.Random(f"{seed}:{name}").randbytes(size)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_size(spec: UploadSpec, index: int, j: int) -> int:
    return spec.sizes[(index * spec.files + j) % len(spec.sizes)]


class PacedStream(trio.abc.Stream):
    """A stream whose ``send_all`` keeps to ``rate`` bytes per second (receiving is not paced)."""

    def __init__(self, inner: trio.abc.Stream, rate: int) -> None:
        self.inner = inner
        self.rate = rate
        self.step = max(1, rate // PACE_STEPS)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self.step):
            piece = view[start : start + self.step]
            await self.inner.send_all(piece)
            await trio.sleep(len(piece) / self.rate)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        send_eof = getattr(self.inner, "send_eof", None)
        if send_eof is not None:
            await send_eof()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


class UploadRun:
    """One upload client's whole run (all its files and connections)."""

    def __init__(self, log: ProcessLog, spec: UploadSpec, fleet: str, index: int,
                 seed: int) -> None:
        self.log = log
        self.spec = spec
        self.fleet = fleet
        self.index = index
        self.seed = seed
        self.client: UploadClient | None = None

    async def run(self, deadline: float) -> None:
        try:
            await guarded(self.log, deadline, self._files)
        finally:
            if self.client is not None:
                await self.client.aclose()

    async def _files(self) -> None:
        for j in range(self.spec.files):
            if not await self._connected():
                return  # the server stays out of reach: the rest would fail the same way
            name = file_name(self.fleet, self.index, j, self.seed)
            data = file_content(self.seed, name, file_size(self.spec, self.index, j))
            digest = await trio.to_thread.run_sync(_sha256, data)
            await self._file(f"{self.log.process}/{j}", Prepared(data, name, len(data), digest))
        if self.client is not None:
            await self.client.aclose()
            self.client = None
            self.log.closed()

    async def _connected(self) -> bool:
        """Have a connection, reconnecting (bounded) if needed."""
        delays = RECONNECT.delays()
        while not await self._connect():
            delay = next(delays, None)
            if delay is None:
                return False
            await trio.sleep(delay)
        return True

    async def _connect(self) -> bool:
        if self.client is not None:
            return True
        self.log.connecting()
        try:
            stream = await connect_stream(self.spec.host, self.spec.port,
                                          connect_timeout=CONNECT_TIMEOUT)
        except ConnectionLost as exc:
            self.log.connect_fail(describe(exc))
            return False
        wire: trio.abc.Stream = PacedStream(stream, self.spec.pace) if self.spec.pace else stream
        self.client = UploadClient(wire, timeout=REQUEST_TIMEOUT)
        try:
            with trio.fail_after(REQUEST_TIMEOUT):
                await stream.send_all(encode_preface("upload"))
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
            await self._drop()
            self.log.connect_fail(describe(exc))
            return False
        self.log.connect_ok(stream)
        return True

    async def _drop(self, error: str | None = None) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if error is not None:
            self.log.lost(error)

    async def _file(self, op: str, item: Prepared) -> None:
        self.log.invoke("put", {"op": op, "name": item.name, "size": item.size,
                                "sha256": item.sha256})
        retry = await self._put(op, item)
        delays = RESUMES.delays()
        while retry and self.spec.resume:
            delay = next(delays, None)
            if delay is None:
                return
            await trio.sleep(delay)
            if not await self._connect():
                continue
            self.log.invoke("resume", {"op": op, "name": item.name})
            retry = await self._put(op, item)

    async def _put(self, op: str, item: Prepared) -> bool:
        """One attempt at ``item``; True if a retry may complete it."""
        assert self.client is not None
        client = self.client
        client.chunk_size = max(MIN_CHUNK, min(DATA_FRAME_LIMIT, item.size // 20))
        reported = -1

        def progress(done: int, total: int) -> None:
            nonlocal reported
            tenth = done * 10 // total if total else 10
            if reported < 0 or tenth > reported:  # READY, then each new tenth
                reported = tenth
                self.log.info("progress", {"op": op, "name": item.name, "offset": done,
                                           "size": total})

        try:
            stored = await client.put(item, overwrite=True, progress=progress)
        except UploadRefused as exc:
            self.log.fail("put", {"op": op, "code": exc.code, "message": exc.message})
            if exc.fatal:
                await self._drop(f"{exc.code}: {exc.message}")
            return exc.code in RESUMABLE
        except UploadError as exc:
            self.log.info("put", {"op": op, "error": describe(exc)})
            await self._drop(describe(exc))
            return True
        self.log.ok("put", {"op": op, "name": stored.name, "sha256": stored.sha256})
        return False
