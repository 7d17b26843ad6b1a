"""One upload in progress: a file in the staging area, its running hash, its commit.

Resource handling: a :class:`PartialFile` owns one open file descriptor from
:meth:`PartialFile.open` until :meth:`commit` or :meth:`close`. Every method
here blocks (disk I/O, hashing) and is meant to run in a worker thread, one
call at a time; the Trio side (``sink.py``) guarantees that.

Durability: :meth:`commit` fsyncs the data, then makes the file visible under
its final name with one atomic step (``link`` for "never overwrite",
``rename`` for "replace"), then fsyncs both directories, so after STORED the
file survives a power cut and before it nothing is under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

READ_CHUNK = 1 << 20


class CommitError(Exception):
    """The upload cannot be stored; ``code`` is an upload error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or unlink in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def hash_fd(fd: int, length: int | None = None) -> tuple[hashlib._Hash, int]:
    """SHA-256 of the first ``length`` bytes of ``fd`` (all if None) and bytes read."""
    hasher = hashlib.sha256()
    done = 0
    while length is None or done < length:
        want = READ_CHUNK if length is None else min(READ_CHUNK, length - done)
        chunk = os.pread(fd, want, done)
        if not chunk:
            break
        hasher.update(chunk)
        done += len(chunk)
    return hasher, done


@dataclass
class PartialFile:
    """An upload's staging file, its hash so far and its target."""

    path: Path
    final: Path
    size: int
    sha256: str  # declared; empty for classic uploads (nothing to verify)
    fd: int
    offset: int  # where this connection's data starts (resume point)
    received: int  # bytes in the file now
    hasher: hashlib._Hash
    replace: bool  # publish with rename (replacing a file) rather than link
    committed: bool = False
    identity: tuple[int, int, int] = (0, 0, 0)  # (inode, size, mtime_ns) once committed

    @classmethod
    def open(
        cls, path: Path, final: Path, *, size: int, sha256: str, resume: bool, replace: bool
    ) -> PartialFile:
        """Open (or create) the staging file; with ``resume`` keep and re-hash its data."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        if not resume:
            flags |= os.O_TRUNC
        fd = os.open(path, flags, 0o644)
        try:
            length = os.fstat(fd).st_size
            if length > size:  # not ours or damaged: start over
                os.ftruncate(fd, 0)
                length = 0
            hasher, length = hash_fd(fd, length)
            os.lseek(fd, length, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, final, size, sha256, fd, length, length, hasher, replace)

    def hash_batch(self, chunks: list[bytes | memoryview]) -> None:
        """Add ``chunks`` to the running hash (blocking; runs beside ``write_batch``)."""
        for chunk in chunks:
            self.hasher.update(chunk)

    def write_batch(self, chunks: list[bytes | memoryview]) -> None:
        """Append ``chunks`` to the file (blocking; the caller batches to save syscalls)."""
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
            self.received += len(chunk)

    def close(self) -> None:
        """Close the file, keeping its data (for a later resume)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        """Close and delete the staging file (nothing to do once committed)."""
        self.close()
        if self.committed:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def commit(self) -> str:
        """Verify, fsync and publish under the final name; returns the SHA-256.

        Raises :class:`CommitError` (``size-mismatch``, ``hash-mismatch``,
        ``exists``) after deleting the staging file: nothing is stored.
        """
        digest = self.hasher.hexdigest()
        try:
            if self.received != self.size:
                raise CommitError(
                    "size-mismatch", f"declared {self.size} bytes, received {self.received}"
                )
            if self.sha256 and digest != self.sha256:
                raise CommitError("hash-mismatch", f"declared SHA-256 {self.sha256}, got {digest}")
            os.fsync(self.fd)
            st = os.fstat(self.fd)  # the inode keeps these through link and rename
            self.identity = (st.st_ino, st.st_size, st.st_mtime_ns)
            self.close()
            if self.replace:
                if self.final.is_dir() and not self.final.is_symlink():
                    raise CommitError("exists", f"{self.final.name!r} is a directory")
                os.replace(self.path, self.final)
            else:
                try:
                    os.link(self.path, self.final, follow_symlinks=False)
                except FileExistsError:
                    raise CommitError(
                        "exists", f"{self.final.name!r} was stored meanwhile"
                    ) from None
                os.unlink(self.path)
        except CommitError:
            self.discard()
            raise
        self.committed = True
        fsync_dir(self.final.parent)
        fsync_dir(self.path.parent)
        return digest


def is_regular(path: Path) -> bool:
    """True for a regular file that is not a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
