"""Sandbox uids for this test process alone: ``sandbox_uids()`` → a range like ``30100-30199``.

Why: the exec sandbox ends a command by killing every process of its uid
(``kill(-1)`` as that uid), so it also ends whatever another server runs
under the same uid. Two test runs side by side on one machine, each lending
uids from the default range, killed each other's commands now and then (a
command SIGKILLed mid-run, its output missing). Each process takes a block
of its own instead, outside the default range (what servers started without
``--sandbox-uids`` use, such as the docs' servers).

Resource handling: block ``k`` is held by an exclusive ``flock`` on
``netlab-test-uids/k.lock`` in the temporary directory, taken at the first
call and released when the process ends (the kernel drops the lock with
the descriptor, however the process ends).
Error handling: ``RuntimeError`` if every block is held.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

FIRST_UID = 30_000  # past the default range, 20000-20999
BLOCK = 100  # uids per process; a test server runs far fewer commands at once
BLOCKS = 100  # 30000-39999

_held: tuple[int, str] | None = None  # (the lock's descriptor, the range)


def sandbox_uids() -> str:
    """This process's uid range, e.g. ``30100-30199``; the same on every call."""
    global _held
    if _held is None:
        _held = _reserve(Path(tempfile.gettempdir()) / "netlab-test-uids")
    return _held[1]


def _reserve(folder: Path) -> tuple[int, str]:
    folder.mkdir(exist_ok=True)
    for block in range(BLOCKS):
        fd = os.open(folder / f"{block}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        first = FIRST_UID + block * BLOCK
        return fd, f"{first}-{first + BLOCK - 1}"
    raise RuntimeError(f"every sandbox uid block under {folder} is held by a test process")
