"""What an upload sends: a file, bytes, or a :class:`Reader`; its size, and its digest.

A source is read in batches of :data:`READ_BATCH` bytes, one worker-thread
call per batch, cut into DATA-sized chunks; when the digest is not known yet
the same call hashes what it read (hashlib releases the GIL), so a file is
read once, while its bytes flow, and the digest goes in the upload's END.

Why bytes are hashed first and files are not: bytes are already in memory,
so hashing them first reads nothing twice, and their PUT can declare the
digest (as servers before digests at END require). A file hashed first
would be read twice before its last byte flows (``prepare(...,
hash_first=True)`` still does that, for such servers).

Resource handling: :func:`open_reader` opens a file's descriptor in a worker
thread and closes it when its block ends; bytes and readers hold nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import trio

READ_BATCH = 4 << 20  # bytes read (and hashed) per worker-thread call


class UploadError(Exception):
    """Base class of the client's errors."""


class SourceChanged(UploadError):
    """The source holds fewer bytes than it did when the upload was announced."""


@runtime_checkable
class Reader(Protocol):
    """Bytes to upload made or read on demand (a generator, a device, an object store).

    ``read_at(offset, length)`` returns ``length`` bytes from ``offset`` (fewer
    only past the end). It may block: the client calls it in a worker thread.
    """

    @property
    def size(self) -> int:
        """How many bytes the upload carries."""

    def read_at(self, offset: int, length: int) -> bytes | memoryview:
        """``length`` bytes from ``offset``."""


Source = Path | str | bytes | Reader


@dataclass(slots=True)
class ResumeToken:
    """The token of the last READY for one upload: a retry presents it to resume."""

    value: str = ""


@dataclass(frozen=True, slots=True)
class Prepared:
    """An upload source with its size (and its SHA-256, if known before sending).

    ``sha256`` empty: the client hashes while it sends and declares the
    digest at END; every retry of the same ``Prepared`` does the same, so a
    resume finds the data kept for it (the server keys kept data by what the
    PUT declared). ``token`` keeps the server's resume token between
    attempts: a retry with the same ``Prepared`` resumes, a fresh one starts over.
    """

    source: Path | bytes | Reader
    name: str
    size: int
    sha256: str
    token: ResumeToken = field(default_factory=ResumeToken, compare=False)


class BytesReader:
    """A :class:`Reader` over bytes in memory (views, never copies)."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._view = memoryview(data)
        self.size = len(self._view)

    def read_at(self, offset: int, length: int) -> memoryview:
        return self._view[offset : offset + length]


class FileReader:
    """A :class:`Reader` over an open file descriptor (``pread``: no shared position)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def read_at(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)


@asynccontextmanager
async def open_reader(source: Path | bytes | Reader, size: int) -> AsyncIterator[Reader]:
    """A reader of ``source`` for the block (a file is opened, then closed)."""
    if isinstance(source, bytes):
        yield BytesReader(source)
        return
    if not isinstance(source, Path):
        yield source
        return
    fd = await trio.to_thread.run_sync(os.open, source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield FileReader(fd, size)
    finally:
        os.close(fd)


def read_batch(reader: Reader, offset: int, length: int, chunk_size: int,
               hasher: hashlib._Hash | None) -> list[bytes | memoryview]:
    """``length`` bytes from ``offset`` in chunks of ``chunk_size``, each hashed if asked.

    Blocking: one worker-thread call. Raises :class:`SourceChanged` if the
    source ends early.
    """
    chunks: list[bytes | memoryview] = []
    position, end = offset, offset + length
    while position < end:
        chunk = reader.read_at(position, min(chunk_size, end - position))
        if not chunk:
            raise SourceChanged(f"the source ended at {position} bytes of {reader.size}")
        if hasher is not None:
            hasher.update(chunk)
        chunks.append(chunk)
        position += len(chunk)
    return chunks


def hash_range(reader: Reader, hasher: hashlib._Hash, end: int) -> None:
    """Add the first ``end`` bytes of ``reader`` to ``hasher`` (blocking)."""
    for start in range(0, end, READ_BATCH):
        read_batch(reader, start, min(READ_BATCH, end - start), READ_BATCH, hasher)


async def prepare(source: Source, *, name: str | None = None,
                  hash_first: bool = False) -> Prepared:
    """Measure ``source`` (a path, bytes or a :class:`Reader`), off the event loop.

    Bytes are hashed now (they are in memory); a file or a reader only when
    ``hash_first`` (for a server that needs the digest in the PUT): else the
    upload hashes while it sends.
    """
    if isinstance(source, bytes | Reader):
        if name is None:
            raise ValueError("uploading bytes or a reader needs a name")
        if isinstance(source, bytes):
            digest = await trio.to_thread.run_sync(lambda: hashlib.sha256(source).hexdigest())
            return Prepared(source, name, len(source), digest)
        return Prepared(source, name, source.size,
                        await _digest(source, source.size) if hash_first else "")
    path = Path(source)
    size = (await trio.to_thread.run_sync(path.stat)).st_size
    return Prepared(path, name or path.name, size,
                    await _digest(path, size) if hash_first else "")


async def _digest(source: Path | Reader, size: int) -> str:
    hasher = hashlib.sha256()
    async with open_reader(source, size) as reader:
        await trio.to_thread.run_sync(hash_range, reader, hasher, size)
    return hasher.hexdigest()
