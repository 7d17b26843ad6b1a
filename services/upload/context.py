"""What every connection handler of one upload server shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.upload.config import UploadConfig
from services.upload.storage import Store


@dataclass(frozen=True, slots=True)
class ServerContext:
    """The server's config, store, counters, lifecycle and logger."""

    config: UploadConfig
    store: Store
    counters: Counters
    lifecycle: Lifecycle
    logger: logging.Logger

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the upload figures in ``counters.extra``."""
        self.counters.extra[name] += amount
