"""The upload server's settings (see ``netlab upload serve --help``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import click

from services.runtime.config import ServerConfig
from services.runtime.connection import MAX_BATCH
from services.runtime.options import BYTE_SIZE, DURATION, setting

DEFAULT_PORT = 8002
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class OverwritePolicy(enum.StrEnum):
    """What an upload to an existing name does.

    ``on-request`` (default): refused with ``exists`` unless the PUT says
    ``overwrite: true``; then the old file is replaced atomically when the new
    one is verified (a reader sees the old or the new file, never a mix).
    ``never``: always refused. ``always``: always replaced. Classic uploads
    cannot ask and follow their own switch, ``classic_overwrite``.
    """

    NEVER = "never"
    ON_REQUEST = "on-request"
    ALWAYS = "always"

    def allows(self, requested: bool) -> bool:
        return self is OverwritePolicy.ALWAYS or (self is OverwritePolicy.ON_REQUEST and requested)


@dataclass(frozen=True, kw_only=True)
class UploadConfig(ServerConfig):
    """Settings of the upload server.

    ``quota`` bounds stored files + partial uploads + the declared size of
    uploads in flight (default 1 GiB; None: unlimited); ``min_free_space`` is
    the room every admission leaves on the disk. A partial upload is kept
    ``partial_ttl`` seconds after its last byte for a resume, then deleted by a
    sweep every ``cleanup_interval`` seconds. ``max_uploads`` bounds uploads in
    progress at once (netlab and classic); ``io_threads`` bounds worker threads
    hashing and writing. An upload holds its slot only while data flows: a
    pause longer than ``data_timeout`` ends it with ``timeout``, and so does
    an average below ``min_rate`` bytes per second (0: no minimum), judged
    from READY once ``data_timeout`` seconds have passed.

    Memory: a download reads ``download_chunk`` bytes at a time, only as the
    connection's queue (``queue_size`` messages) takes them, so one download
    holds about ``queue_size + 5`` chunks; downloads together reserve at most
    ``transfer_memory`` bytes, and a GET waits up to ``memory_wait`` seconds
    for room, then gets ``busy``.
    """

    root: Path = setting(
        Path("uploads"), type=click.Path(file_okay=False, path_type=Path),
        help="Directory of stored files (created if missing).",
    )
    # Outgoing queue per connection, in messages: DATA frames of a download are
    # download_chunk bytes, so the queue holds at most queue_size chunks.
    queue_size: int = 4
    max_file_size: int = setting(4 * GiB, type=BYTE_SIZE, help="Largest file accepted.")
    quota: int | None = setting(
        1 * GiB, type=BYTE_SIZE,
        help="Total bytes of stored files, partials and uploads in flight.",
    )
    min_free_space: int = setting(
        64 * MiB, type=BYTE_SIZE,
        help="Free disk space every upload must leave; less is refused with 'no-space'.",
    )
    data_timeout: float = setting(
        20.0, type=DURATION,
        help="Seconds an upload may send no data before it ends with 'timeout', "
        "freeing its slot.",
    )
    # 1 KiB/s: a trickle far below any real link, yet one byte per data_timeout
    # (what the data timeout alone lets through) is thousands of times slower.
    min_rate: int = setting(
        1 * KiB, type=BYTE_SIZE,
        help="Bytes per second an upload must average from READY, judged after "
        "--data-timeout seconds; slower ends with 'timeout', freeing its slot (0: no minimum).",
    )
    transfer_memory: int = setting(
        64 * MiB, type=BYTE_SIZE,
        help="Memory all downloads together may hold in buffers; more wait, then get 'busy'.",
    )
    memory_wait: float = setting(
        5.0, type=DURATION,
        help="Seconds a GET waits for buffer memory before it is refused with 'busy'.",
    )
    partial_ttl: float = setting(
        24 * 3600.0, type=DURATION,
        help="Seconds an interrupted upload is kept for a resume after its last byte.",
    )
    cleanup_interval: float = setting(
        60.0, type=DURATION, help="Seconds between sweeps deleting expired partial uploads."
    )
    overwrite: OverwritePolicy = setting(
        OverwritePolicy.ON_REQUEST, type=click.Choice([p.value for p in OverwritePolicy]),
        help="Existing names: refuse, replace when the client asks, or always replace.",
    )
    classic_overwrite: bool = setting(
        True,
        help="Classic (tutorial) uploads replace a stored file of the same name atomically, "
        "as the tutorial's server does; with --no-classic-overwrite they get 'false'.",
    )
    max_uploads: int = setting(
        64, type=click.IntRange(min=1),
        help="Uploads in progress at once; more are refused with 'busy'.",
    )
    io_threads: int = 8
    chunk_size: int = 1 * MiB
    download_chunk: int = 64 * KiB
    receive_size: int = 1 * MiB

    def __post_init__(self) -> None:
        super().__post_init__()
        # Accept the policy's name too ("always"), as the CLI and tests pass it.
        object.__setattr__(self, "overwrite", OverwritePolicy(self.overwrite))
        object.__setattr__(self, "root", Path(self.root))
        if self.max_file_size < 0:
            raise ValueError("max_file_size must not be negative")
        if self.quota is not None and self.quota < 0:
            raise ValueError("quota must not be negative")
        if self.min_free_space < 0:
            raise ValueError("min_free_space must not be negative")
        if self.min_rate < 0:
            raise ValueError("min_rate must not be negative")
        for name in ("partial_ttl", "cleanup_interval", "data_timeout", "memory_wait"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("max_uploads", "io_threads", "chunk_size", "receive_size",
                     "download_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("chunk_size", "download_chunk"):
            if getattr(self, name) > MiB:
                raise ValueError(f"{name} must be at most 1 MiB (the DATA frame limit)")
        if self.transfer_memory < self.download_reservation:
            raise ValueError("transfer_memory must hold at least one download")

    @property
    def download_reservation(self) -> int:
        """The most one download holds: its queue, the writer's batch, the chunk being read."""
        frame = self.download_chunk + 5  # a DATA frame's header is 5 bytes
        # The writer takes up to MAX_BATCH bytes off the queue and joins them (a copy).
        return (self.queue_size + 2) * frame + 2 * (MAX_BATCH + frame)
