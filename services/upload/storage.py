"""The upload directory: admission (names, limits, quota, clashes), staging, listing, expiry.

Layout: stored files live directly in ``root``; uploads in progress live in
``root/.netlab-partial`` (a hidden name, which no client name can take), one
file per upload keyed by (name, size, SHA-256), so the same upload retried
after a disconnect finds its data again and resumes. Classic uploads (no
hash, no resume) use a unique staging name and are deleted on failure.

Admission happens before any data flows and under one lock, so concurrent
uploads cannot together overshoot the quota: the quota counts stored files,
idle partials, and the *declared* size of every upload in progress (an
overwrite counts both the old and new file until the new one is stored).

Resource handling: every blocking call (stat, scandir, open, hash) runs in a
worker thread bounded by ``limiter``. The Trio side only keeps dictionaries.
"""

from __future__ import annotations

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
from services.upload.partial import PartialFile, fsync_dir, hash_fd
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


def partial_name(name: str, size: int, sha256: str) -> str:
    """The staging file of one upload, keyed by what the client declared."""
    key = hashlib.sha256(f"{name}\0{size}\0{sha256}".encode()).hexdigest()
    return key + PARTIAL_SUFFIX


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

    async def _run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await trio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def open(self) -> None:
        """Create the directories (the root may not exist yet)."""
        await self._run(lambda: self.staging.mkdir(parents=True, exist_ok=True))

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
        self, name: str, size: int, sha256: str, *, overwrite: bool
    ) -> PartialFile:
        """Admit an upload and open its staging file (resumed if data is there).

        Raises :class:`Refused` with ``bad-name``, ``too-large``, ``exists``,
        ``busy`` or ``quota-exceeded``; nothing is reserved then.
        """
        name = self.check_name(name)
        classic = not sha256
        staging_name = (
            f"{CLASSIC_PREFIX}{secrets.token_hex(8)}{PARTIAL_SUFFIX}"
            if classic
            else partial_name(name, size, sha256)
        )
        final = self.root / name
        async with self._admission:
            self._check_limits(name, size, staging_name)
            replace = self._replaces(classic, overwrite)
            if not replace and await self._run(os.path.lexists, final):
                hint = self._exists_hint(classic)
                raise Refused(UploadErrorCode.EXISTS, f"{name!r} exists{hint}")
            if await self._run(os.path.isdir, final):
                raise Refused(UploadErrorCode.EXISTS, f"{name!r} is a directory")
            await self._check_quota(size, staging_name)
            self._active[staging_name] = size
        try:
            return await self._run(
                lambda: PartialFile.open(
                    self.staging / staging_name, final, size=size, sha256=sha256,
                    resume=not classic, replace=replace,
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

    async def _check_quota(self, size: int, staging_name: str) -> None:
        quota = self.config.quota
        if quota is None:
            return
        stored, partials = await self._run(self._disk_usage)
        idle = sum(n for f, n in partials.items() if f not in self._active and f != staging_name)
        used = stored + idle + sum(self._active.values())
        if used + size > quota:
            raise Refused(
                UploadErrorCode.QUOTA_EXCEEDED,
                f"{size} bytes would exceed the quota of {quota} ({used} in use)",
            )

    def _disk_usage(self) -> tuple[int, dict[str, int]]:
        stored = sum(info.size for info in self._scan())
        partials: dict[str, int] = {}
        with suppress(FileNotFoundError), os.scandir(self.staging) as entries:
            for entry in entries:
                with suppress(OSError):
                    partials[entry.name] = entry.stat(follow_symlinks=False).st_size
        return stored, partials

    def writers(self, partial: PartialFile) -> list[WriteBatch]:
        """Hashing and writing, as two pipelines: they run on two cores at once."""

        async def hash_batch(chunks: list[Chunk]) -> None:
            await self._run(partial.hash_batch, chunks)

        async def write_batch(chunks: list[Chunk]) -> None:
            await self._run(partial.write_batch, chunks)

        return [hash_batch, write_batch]

    async def commit(self, partial: PartialFile) -> tuple[str, str]:
        """Verify and publish; returns (name, sha256). Always releases the reservation."""
        try:
            digest = await self._run(self._commit, partial)
        finally:
            self._active.pop(partial.path.name, None)
        return partial.final.name, digest

    def _commit(self, partial: PartialFile) -> str:
        digest = partial.commit()
        self._hashes[partial.final.name] = (*partial.identity, digest)
        return digest

    async def release(self, partial: PartialFile, *, keep: bool) -> None:
        """End an upload that will not be committed; ``keep`` its data for a resume."""
        try:
            await self._run(partial.close if keep else partial.discard)
        finally:
            self._active.pop(partial.path.name, None)

    # -- reading ----------------------------------------------------------------
    def _scan(self) -> list[FileInfo]:
        files = []
        with os.scandir(self.root) as entries:
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
            fd = os.open(self.root / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
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
        expired = []
        cutoff = now - self.config.partial_ttl
        with suppress(FileNotFoundError), os.scandir(self.staging) as entries:
            for entry in entries:
                if entry.name in self._active:
                    continue
                with suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        expired.append(entry.name)
        if expired:
            fsync_dir(self.staging)
        return expired

    async def expire_partials(self, now: float | None = None) -> list[str]:
        """Delete partial uploads idle for longer than ``partial_ttl``; returns their names."""
        when = time.time() if now is None else now
        # Under the admission lock: an upload admitted meanwhile is in
        # ``_active`` before its staging file is opened, so it is never swept.
        async with self._admission:
            return await self._run(self._expire, when)
