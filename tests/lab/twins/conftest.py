"""The twins' tests: each twin served from a thread on a loopback port (port 0)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import trio

from lab.proxy.proxy import Proxy
from lab.twins.chat import ChatTwin
from lab.twins.exec import ExecTwin
from lab.twins.serving import TwinServer
from lab.twins.upload import UploadTwin

HOST = "127.0.0.1"
TOKEN = "twin-token"
T = TypeVar("T", bound=TwinServer)


@contextmanager
def serving(server: T) -> Iterator[T]:
    """``server`` accepting in a thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def chat_twin() -> Iterator[ChatTwin]:
    with serving(ChatTwin((HOST, 0))) as server:
        yield server


@pytest.fixture
def exec_twin() -> Iterator[ExecTwin]:
    with serving(ExecTwin((HOST, 0), token=TOKEN)) as server:
        yield server


@pytest.fixture
def upload_twin(tmp_path: Path) -> Iterator[UploadTwin]:
    with serving(UploadTwin((HOST, 0), root=tmp_path / "uploads")) as server:
        yield server


async def start_proxy(nursery: trio.Nursery, port: int) -> Proxy:
    """A fault proxy in front of ``port`` (no toxics yet)."""
    proxy = Proxy("twin", (HOST, port))
    await nursery.start(proxy.run)
    return proxy
