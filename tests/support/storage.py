"""What an upload server's directory holds, as the tests look at it from outside."""

from __future__ import annotations

import hashlib
from pathlib import Path

from services.upload.storage import PARTIAL_DIR


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_names(root: Path) -> list[str]:
    """What is visible in the upload directory, staging area excluded."""
    return sorted(p.name for p in root.iterdir() if p.name != PARTIAL_DIR)


def partials(root: Path) -> list[str]:
    """The uploads staged under ``root`` (in progress or kept for a resume)."""
    return sorted(p.name for p in (root / PARTIAL_DIR).iterdir())
