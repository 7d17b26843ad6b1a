"""Counters every server keeps, readable in-process and over the stats port."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Counters:
    """Live figures of one server. Mutated only from the server's Trio thread.

    ``extra`` holds service-specific counts (messages delivered, commands run,
    files stored...), keyed by a short name.
    """

    connections_total: int = 0
    connections_open: int = 0
    connections_refused: int = 0
    tasks_open: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    errors: int = 0
    errors_by_reason: Counter[str] = field(default_factory=Counter)
    extra: Counter[str] = field(default_factory=Counter)

    def error(self, reason: str) -> None:
        """Count one error under ``reason``."""
        self.errors += 1
        self.errors_by_reason[reason] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every figure."""
        return {
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "connections_refused": self.connections_refused,
            "tasks_open": self.tasks_open,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "errors": self.errors,
            "errors_by_reason": dict(self.errors_by_reason),
            "extra": dict(self.extra),
        }
