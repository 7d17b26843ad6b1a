"""Fixtures of the upload tests: a server in-process on port 0, under ``tmp_path``."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from services.upload.config import UploadConfig
from services.upload.server import UploadServer
from services.upload.storage import PARTIAL_DIR

StartServer = Callable[..., Awaitable[UploadServer]]


@pytest.fixture
def start_server(nursery: trio.Nursery, tmp_path: Any) -> StartServer:
    """``await start_server(**config)`` runs an UploadServer; its port is ``server.port``."""

    async def start(**overrides: Any) -> UploadServer:
        overrides.setdefault("root", tmp_path / "uploads")
        server = UploadServer(UploadConfig(port=0, **overrides))
        server.port = await nursery.start(server.run)  # type: ignore[attr-defined]
        return server

    return start


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_names(server: UploadServer) -> list[str]:
    """What is visible in the upload directory, staging area excluded."""
    return sorted(p.name for p in server.store.root.iterdir() if p.name != PARTIAL_DIR)


def partials(server: UploadServer) -> list[str]:
    return sorted(p.name for p in (server.store.root / PARTIAL_DIR).iterdir())
