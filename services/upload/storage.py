"""The upload directory: admission (names, limits, quota, clashes), staging, listing, expiry.

Layout: stored files live directly in ``root``; uploads in progress live in
``root/.netlab-partial`` (a hidden name, which no client name can take), one
file per upload keyed by (name, size, SHA-256, resume token): the token is
random and issued by the server in READY, so only the client that started an
upload can find its data again and resume it. Classic uploads (no hash, no
resume) use a unique staging name and are deleted on failure.

Links: the root and the staging directory are opened once, without following
symbolic links, and every later call is relative to those descriptors. A
staging name that is a link (or not a directory) at start-up is removed and
made again as a directory: nothing it pointed to is touched. The sweep
deletes only regular files with the staging suffix.

Disk: an upload is admitted only if the quota (default 1 GiB) and the free
space (``statvfs``, keeping ``min_free_space``) allow its declared size; a
disk-full error while writing deletes the partial at once.

Admission happens before any data flows and under one lock, so concurrent
uploads cannot together overshoot the quota: the quota counts stored files,
idle partials, and the *declared* size of every upload in progress (an
overwrite counts both the old and new file until the new one is stored).

Resource handling: every blocking call (stat, scandir, open, hash) runs in a
worker thread bounded by ``limiter``. The Trio side only keeps dictionaries.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TypeVar, TypeVarTuple

import trio

from services.upload.config import OverwritePolicy, UploadConfig
from services.upload.events import FileInfo, UploadErrorCode
from services.upload.names import BadName, clean_name, is_clean
from services.upload.partial import PartialFile, hash_fd, open_dir
from services.upload.sink import Chunk, WriteBatch

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

PARTIAL_DIR = ".netlab-partial"
PARTIAL_SUFFIX = ".part"
CLASSIC_PREFIX = "classic-"


class Refused(Exception):
    """A request the store refuses; ``code`` and ``message`` go on the wire."""

    def __init__(self, code: UploadErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Download:
    """An open stored file, ready to be read from any offset."""

    name: str
    fd: int
    size: int
    sha256: str


DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def partial_name(name: str, size: int, sha256: str, token: str) -> str:
    """The staging file of one upload: what the client declared and its resume token."""
    key = hashlib.sha256(f"{name}\0{size}\0{sha256}\0{token}".encode()).hexdigest()
    return key + PARTIAL_SUFFIX


def new_token() -> str:
    """A fresh resume token: 128 random bits, 32 hexadecimal digits."""
    return secrets.token_hex(16)


class Store:
    """The upload directory of one server."""

    def __init__(self, config: UploadConfig, *, limiter: trio.CapacityLimiter) -> None:
        self.root = config.root.resolve()
        self.staging = self.root / PARTIAL_DIR
        self.config = config
        self.limiter = limiter
        self._admission = trio.Lock()
        self._active: dict[str, int] = {}  # staging file name → reserved bytes
        # name → (inode, size, mtime_ns, sha256): stored files' hashes, so STAT
        # and GET need not re-read a file; checked against fstat on every use.
        self._hashes: dict[str, tuple[int, int, int, str]] = {}
        self.root_fd = -1
        self.staging_fd = -1
        self.replaced_staging = False  # the staging name was a link or a file at start-up

    async def _run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def open(self) -> None:
        """Create and open the directories (the root may not exist yet)."""
        await self._run(self._open_dirs)

    def _open_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root_fd = open_dir(self.root)
        try:
            self.staging_fd = open_dir(PARTIAL_DIR, dir_fd=self.root_fd)
        except FileNotFoundError:
            self.staging_fd = self._make_staging()
        except OSError as exc:  # a link or a file: not ours to follow or to empty
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            os.unlink(PARTIAL_DIR, dir_fd=self.root_fd)
            self.replaced_staging = True
            self.staging_fd = self._make_staging()

    def _make_staging(self) -> int:
        os.mkdir(PARTIAL_DIR, 0o755, dir_fd=self.root_fd)
        return open_dir(PARTIAL_DIR, dir_fd=self.root_fd)

    def close(self) -> None:
        """Close the directory descriptors (the store is done)."""
        for fd in (self.staging_fd, self.root_fd):
            if fd >= 0:
                os.close(fd)
        self.staging_fd = self.root_fd = -1

    @property
    def uploads_in_progress(self) -> int:
        return len(self._active)

    # -- admission ----------------------------------------------------------
    def check_name(self, name: str) -> str:
        try:
            return clean_name(name)
        except BadName as exc:
            raise Refused(UploadErrorCode.BAD_NAME, str(exc)) from None

    async def begin(
        self, name: str, size: int, sha256: str, *, overwrite: bool, resume: str = "",
        classic: bool = False,
    ) -> PartialFile:
        """Admit an upload and open its staging file (resumed if data is there).

        A netlab upload resumes only the data kept under its ``resume`` token;
        without one, or with one that matches nothing, it starts over under a
        fresh token (``partial.token``). ``sha256`` is empty for a classic
        upload and for a netlab upload that declares its digest at END. Raises :class:`Refused` with
        ``bad-name``, ``too-large``, ``exists``, ``busy``, ``quota-exceeded``
        or ``no-space``; nothing is reserved then.
        """
        name = self.check_name(name)
        token = ""
        final = self.root / name
        async with self._admission:
            if classic:
                staging_name = f"{CLASSIC_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            else:
                token = resume
                staging_name = partial_name(name, size, sha256, token)
                if not token or (staging_name not in self._active
                                 and not await self._run(self._staged, staging_name)):
                    token = new_token()
                    staging_name = partial_name(name, size, sha256, token)
            self._check_limits(name, size, staging_name)
            replace = self._replaces(classic, overwrite)
            if not replace and await self._run(os.path.lexists, final):
                hint = self._exists_hint(classic)
                raise Refused(UploadErrorCode.EXISTS, f"{name!r} exists{hint}")
            if await self._run(os.path.isdir, final):
                raise Refused(UploadErrorCode.EXISTS, f"{name!r} is a directory")
            await self._check_space(size, staging_name)
            self._active[staging_name] = size
        try:
            return await self._run(
                lambda: PartialFile.open(
                    self.staging / staging_name, final, size=size, sha256=sha256,
                    resume=not classic, replace=replace, staging_fd=self.staging_fd,
                    root_fd=self.root_fd, token=token,
                )
            )
        except BaseException:
            self._active.pop(staging_name, None)
            raise

    def _replaces(self, classic: bool, requested: bool) -> bool:
        """Whether this upload replaces a stored file of the same name.

        A classic client cannot ask, so classic uploads follow their own
        switch (the tutorial's server always replaces); netlab uploads follow
        the overwrite policy and what the PUT asked.
        """
        if classic:
            return self.config.classic_overwrite
        return self.config.overwrite.allows(requested)

    def _exists_hint(self, classic: bool) -> str:
        """What a refused client (or the log, for a classic one) is told to do instead."""
        if classic:
            return " (classic uploads replace only with --classic-overwrite)"
        if self.config.overwrite is OverwritePolicy.ON_REQUEST:
            return " (to replace it: netlab upload put --overwrite)"
        return " (the server's --overwrite policy is 'never')"

    def _check_limits(self, name: str, size: int, staging_name: str) -> None:
        if size > self.config.max_file_size:
            raise Refused(
                UploadErrorCode.TOO_LARGE,
                f"{size} bytes exceeds the per-file limit of {self.config.max_file_size}",
            )
        if staging_name in self._active:
            raise Refused(UploadErrorCode.BUSY, f"{name!r} is being uploaded by another client")
        if len(self._active) >= self.config.max_uploads:
            raise Refused(
                UploadErrorCode.BUSY,
                f"{self.config.max_uploads} uploads in progress; try again later",
            )

    def _staged(self, staging_name: str) -> bool:
        """Whether a staging file of that name exists (data kept for a resume)."""
        try:
            os.stat(staging_name, dir_fd=self.staging_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    async def _check_space(self, size: int, staging_name: str) -> None:
        """The quota and the disk's free space, both before any data flows."""
        stored, partials, free = await self._run(self._disk_usage)
        kept = partials.get(staging_name, 0)  # a resume writes only the rest
        # Uploads in flight will still write up to their declared sizes.
        in_flight = sum(n - partials.get(f, 0) for f, n in self._active.items())
        needed = size - kept + max(in_flight, 0) + self.config.min_free_space
        if needed > free:
            raise Refused(
                UploadErrorCode.NO_SPACE,
                f"{size} bytes would leave less than {self.config.min_free_space} bytes "
                f"free on the disk ({free} free)",
            )
        quota = self.config.quota
        if quota is None:
            return
        idle = sum(n for f, n in partials.items() if f not in self._active and f != staging_name)
        used = stored + idle + sum(self._active.values())
        if used + size > quota:
            raise Refused(
                UploadErrorCode.QUOTA_EXCEEDED,
                f"{size} bytes would exceed the quota of {quota} ({used} in use)",
            )

    def _disk_usage(self) -> tuple[int, dict[str, int], int]:
        """Bytes stored, bytes of each partial, and bytes free for us on the disk."""
        stored = sum(info.size for info in self._scan())
        partials: dict[str, int] = {}
        with os.scandir(self.staging_fd) as entries:
            for entry in entries:
                with suppress(OSError):
                    partials[entry.name] = entry.stat(follow_symlinks=False).st_size
        vfs = os.statvfs(self.staging_fd)
        return stored, partials, vfs.f_bavail * vfs.f_frsize

    def writers(self, partial: PartialFile) -> list[WriteBatch]:
        """Hashing and writing, as two pipelines: they run on two cores at once.

        A classic upload is only written (nothing would verify its hash: it is
        computed when a STAT or GET first asks for it). Measured with ``lab
        bench upload`` (docs/performance.md): skipping the hash halves the
        server's CPU per classic byte; hashing and writing in one thread per
        batch instead of two cost a netlab upload about 5 % on a disk, whose
        writes then stall the hashing too.
        """

        async def hash_batch(chunks: list[Chunk]) -> None:
            await self._run(partial.hash_batch, chunks)

        async def write_batch(chunks: list[Chunk]) -> None:
            await self._run(partial.write_batch, chunks)

        return [write_batch] if partial.hasher is None else [hash_batch, write_batch]

    async def commit(self, partial: PartialFile, *, sha256: str = "") -> tuple[str, str]:
        """Verify and publish; returns (name, sha256). Always releases the reservation.

        ``sha256``: the digest declared at END, when the PUT declared none.
        """
        if sha256:
            partial.sha256 = sha256
        try:
            digest = await self._run(self._commit, partial)
        finally:
            self._active.pop(partial.path.name, None)
        return partial.final.name, digest

    def _commit(self, partial: PartialFile) -> str:
        digest = partial.commit()
        if digest:  # a classic upload is hashed when first asked for (STAT, GET)
            self._hashes[partial.final.name] = (*partial.identity, digest)
        return digest

    async def release(self, partial: PartialFile, *, keep: bool) -> None:
        """End an upload that will not be committed; ``keep`` its data for a resume.

        Idempotent: the first call closes (or deletes) the staging file.
        """
        try:
            await self._run(partial.close if keep else partial.discard)
        finally:
            self._active.pop(partial.path.name, None)

    # -- reading ----------------------------------------------------------------
    def _scan(self) -> list[FileInfo]:
        files = []
        with os.scandir(self.root_fd) as entries:
            for entry in entries:
                if not is_clean(entry.name):
                    continue
                with suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode):
                        files.append(FileInfo(entry.name, st.st_size, st.st_mtime))
        files.sort(key=lambda f: f.name)
        return files

    async def list_files(self) -> list[FileInfo]:
        """Stored files by name; the staging area and foreign entries never appear."""
        return await self._run(self._scan)

    async def stat(self, name: str) -> FileInfo:
        """Size, time and SHA-256 of one stored file (``not-found`` if none)."""
        download = await self.open_download(name)
        try:
            st = await self._run(os.fstat, download.fd)
        finally:
            await self._run(os.close, download.fd)
        return FileInfo(download.name, download.size, st.st_mtime, download.sha256)

    async def open_download(self, name: str) -> Download:
        """Open a stored file for reading; the caller closes ``fd``."""
        name = self.check_name(name)
        return await self._run(self._open_download, name)

    def _open_download(self, name: str) -> Download:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.root_fd)
        except (FileNotFoundError, NotADirectoryError):
            raise Refused(UploadErrorCode.NOT_FOUND, f"no file named {name!r}") from None
        except OSError as exc:  # a symlink (ELOOP) or unreadable: not ours to serve
            raise Refused(UploadErrorCode.NOT_FOUND, f"{name!r}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused(UploadErrorCode.NOT_FOUND, f"{name!r} is not a regular file")
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            cached = self._hashes.get(name)
            if cached is not None and cached[:3] == key:
                digest = cached[3]
            else:
                digest = hash_fd(fd)[0].hexdigest()
                self._hashes[name] = (*key, digest)
        except BaseException:
            os.close(fd)
            raise
        return Download(name, fd, st.st_size, digest)

    # -- expiry -------------------------------------------------------------
    def _expire(self, now: float) -> list[str]:
        """Delete expired partials: regular ``*.part`` files only, by name in the staging fd."""
        expired = []
        cutoff = now - self.config.partial_ttl
        with os.scandir(self.staging_fd) as entries:
            for entry in entries:
                if entry.name in self._active or not entry.name.endswith(PARTIAL_SUFFIX):
                    continue
                with suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and st.st_mtime < cutoff:
                        os.unlink(entry.name, dir_fd=self.staging_fd)
                        expired.append(entry.name)
        if expired:
            os.fsync(self.staging_fd)
        return expired

    async def expire_partials(self, now: float | None = None) -> list[str]:
        """Delete partial uploads idle for longer than ``partial_ttl``; returns their names."""
        when = time.time() if now is None else now
        # Under the admission lock: an upload admitted meanwhile is in
        # ``_active`` before its staging file is opened, so it is never swept.
        async with self._admission:
            return await self._run(self._expire, when)
