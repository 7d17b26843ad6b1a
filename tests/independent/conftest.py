"""The independent clients' fixtures: netlab's real servers, in-process, on loopback.

The clients are blocking (plain sockets, as a user's own program would be),
so each test runs its client in a worker thread (``in_thread``) while the
server runs in the test's Trio loop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from tests.support.servers import (
    StartChat,
    StartExec,
    StartUpload,
    UploadHandle,
    start_chat,
    start_exec,
    start_upload,
)

T = TypeVar("T")


async def in_thread(work: Callable[[], T]) -> T:
    """Run the blocking client code ``work`` in a thread; its result (or its exception)."""
    return await trio.to_thread.run_sync(work)


@pytest.fixture
def chat_server(nursery: trio.Nursery) -> StartChat:
    return partial(start_chat, nursery)


@pytest.fixture
def exec_server(nursery: trio.Nursery) -> StartExec:
    return partial(start_exec, nursery)


@pytest.fixture
def upload_server(nursery: trio.Nursery, tmp_path: Path) -> StartUpload:
    async def start(**overrides: Any) -> UploadHandle:
        root = overrides.pop("root", tmp_path / "uploads")
        return await start_upload(nursery, root, **overrides)

    return start
