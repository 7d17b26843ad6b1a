"""The upload tests' ``start_server`` fixture: ``await start_server(**config)`` → an UploadHandle
storing under ``tmp_path / "uploads"`` unless ``root=`` says otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.servers import StartUpload, UploadHandle, start_upload


@pytest.fixture
def start_server(nursery: trio.Nursery, tmp_path: Path) -> StartUpload:
    async def start(**overrides: Any) -> UploadHandle:
        root = overrides.pop("root", tmp_path / "uploads")
        return await start_upload(nursery, root, **overrides)

    return start
