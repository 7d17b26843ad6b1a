"""What every session of one server shares: its config, counters, lifecycle, log, idle waits.

Each service's ``context.py`` subclasses :class:`ServiceContext` with its own
state (chat's directory, exec's admission queue, upload's store); the server
skeleton builds it once and hands it to every session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.runtime.config import ServerConfig
from services.runtime.counters import Counters
from services.runtime.idle import IdleWaits
from services.runtime.lifecycle import Lifecycle

ConfigT = TypeVar("ConfigT", bound=ServerConfig)


@dataclass(kw_only=True)
class ServiceContext(Generic[ConfigT]):
    """Shared by the sessions of one server; mutated only from its Trio thread."""

    config: ConfigT
    counters: Counters
    lifecycle: Lifecycle
    logger: logging.Logger
    idle_waits: IdleWaits

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the service's own figures in ``counters.extra``."""
        self.counters.extra[name] += amount
