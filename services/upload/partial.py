"""One upload in progress: a file in the staging area, its running hash, its commit.

Resource handling: a :class:`PartialFile` owns one open file descriptor from
:meth:`PartialFile.open` until :meth:`commit` or :meth:`close`. Every method
here blocks (disk I/O, hashing) and is meant to run in a worker thread, one
call at a time; the Trio side (``sink.py``) guarantees that.

Durability: :meth:`commit` fsyncs the data, then makes the file visible under
its final name with one atomic step (``link`` for "never overwrite",
``rename`` for "replace"), then fsyncs both directories, so after STORED the
file survives a power cut and before it nothing is under the final name.

Links: every call names its file relative to an open directory descriptor
(the staging directory, the root), opened once without following links, so a
symbolic link swapped in for a directory later is never followed.
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


def open_dir(path: Path | str, *, dir_fd: int | None = None) -> int:
    """Open a directory without following a symbolic link (ELOOP/ENOTDIR if it is not one)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, dir_fd=dir_fd)


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
    """An upload's staging file, its hash so far and its target.

    ``path`` and ``final`` are for messages; the file is reached as
    ``path.name`` in ``staging_fd`` and published as ``final.name`` in ``root_fd``.
    """

    path: Path
    final: Path
    size: int
    sha256: str  # declared (by the PUT or at END); empty for classic uploads
    fd: int
    offset: int  # where this connection's data starts (resume point)
    received: int  # bytes in the file now
    hasher: hashlib._Hash | None  # None for a classic upload: it has nothing to verify
    replace: bool  # publish with rename (replacing a file) rather than link
    committed: bool = False
    identity: tuple[int, int, int] = (0, 0, 0)  # (inode, size, mtime_ns) once committed
    staging_fd: int = -1  # the staging directory (borrowed from the store, never closed here)
    root_fd: int = -1  # the root directory (borrowed too)
    token: str = ""  # the resume token a later PUT presents
    advised: int = 0  # where the next write_batch's advice to the kernel starts

    @classmethod
    def open(
        cls, path: Path, final: Path, *, size: int, sha256: str, resume: bool, replace: bool,
        staging_fd: int, root_fd: int, token: str = "",
    ) -> PartialFile:
        """Open (or create) the staging file; with ``resume`` keep and re-hash its data.

        Without ``resume`` (a classic upload) the file starts empty and is not
        hashed at all: nothing would verify the digest, and hashing is the
        largest part of the server's work per byte.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        if not resume:
            flags |= os.O_TRUNC
        fd = os.open(path.name, flags, 0o644, dir_fd=staging_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{path.name} is not a regular file")
            length = st.st_size
            if length > size:  # not ours or damaged: start over
                os.ftruncate(fd, 0)
                length = 0
            hasher: hashlib._Hash | None = None
            if resume:
                hasher, length = hash_fd(fd, length)
            os.lseek(fd, length, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, final, size, sha256, fd, length, length, hasher, replace,
                   staging_fd=staging_fd, root_fd=root_fd, token=token)

    def hash_batch(self, chunks: list[bytes | memoryview]) -> None:
        """Add ``chunks`` to the running hash (blocking; runs beside ``write_batch``)."""
        assert self.hasher is not None, "a classic upload is not hashed"
        for chunk in chunks:
            self.hasher.update(chunk)

    def write_batch(self, chunks: list[bytes | memoryview]) -> None:
        """Append ``chunks`` to the file (blocking; the caller batches to save syscalls).

        Then start writing the previous batches out to the disk, and let the
        kernel drop those already written (``POSIX_FADV_DONTNEED`` starts
        writeback of dirty pages without waiting, and drops clean ones): an
        upload does not fill the page cache (in a container, its memory
        limit) with data nobody will read soon, and the ``fsync`` before
        STORED finds little left to write. Measured with ``lab bench upload``
        (docs/performance.md): about +10 % for a 1 GiB netlab upload and
        +20 % for a classic one, in the lab's containers (256 MiB each).
        """
        start = self.received
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
            self.received += len(chunk)
        with contextlib.suppress(OSError):  # advice only: a file system may not take it
            os.posix_fadvise(self.fd, self.advised, self.received - self.advised,
                             os.POSIX_FADV_DONTNEED)
        self.advised = start  # this batch again next time: written out by then, dropped

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
            os.unlink(self.path.name, dir_fd=self.staging_fd)

    def commit(self) -> str:
        """Verify, fsync and publish under the final name; returns the SHA-256.

        Raises :class:`CommitError` (``size-mismatch``, ``hash-mismatch``,
        ``exists``) after deleting the staging file: nothing is stored.
        """
        digest = self.hasher.hexdigest() if self.hasher is not None else ""
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
            dirs = {"src_dir_fd": self.staging_fd, "dst_dir_fd": self.root_fd}
            if self.replace:
                if _is_dir(self.final.name, self.root_fd):
                    raise CommitError("exists", f"{self.final.name!r} is a directory")
                os.replace(self.path.name, self.final.name, **dirs)
            else:
                try:
                    os.link(self.path.name, self.final.name, **dirs, follow_symlinks=False)
                except FileExistsError:
                    raise CommitError(
                        "exists", f"{self.final.name!r} was stored meanwhile"
                    ) from None
                os.unlink(self.path.name, dir_fd=self.staging_fd)
        except CommitError:
            self.discard()
            raise
        self.committed = True
        os.fsync(self.root_fd)
        os.fsync(self.staging_fd)
        return digest


def _is_dir(name: str, dir_fd: int) -> bool:
    """True for a real directory ``name`` in ``dir_fd`` (a link to one is not)."""
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def is_regular(path: Path) -> bool:
    """True for a regular file that is not a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
