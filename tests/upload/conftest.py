"""The upload tests' fixtures.

``start_server``: ``await start_server(**config)`` → an UploadHandle storing
under ``tmp_path / "uploads"`` unless ``root=`` says otherwise.
``server_clock``: trio's MockClock for tests of a running server's timeouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from tests.support.servers import StartUpload, UploadHandle, start_upload


@pytest.fixture
def start_server(nursery: trio.Nursery, tmp_path: Path) -> StartUpload:
    async def start(**overrides: Any) -> UploadHandle:
        root = overrides.pop("root", tmp_path / "uploads")
        return await start_upload(nursery, root, **overrides)

    return start


# Real seconds every task must stay blocked before the mock clock jumps. The
# server does its disk work in threads, which the clock cannot see: with a
# threshold of 0 it would jump to the next deadline while a file is opened.
THREAD_ROOM = 0.05


@pytest.fixture
def server_clock() -> trio.testing.MockClock:
    """A clock that jumps ahead whenever the test, the server and their threads are idle."""
    return trio.testing.MockClock(autojump_threshold=THREAD_ROOM)
