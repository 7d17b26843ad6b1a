"""The host's load while a bench runs: a figure means little on a busy machine."""

from __future__ import annotations

import os
import platform
import sys

import trio

INTERVAL = 2.0


def machine() -> dict[str, object]:
    """What the figures were measured on."""
    return {"cores": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine(),
            "python": sys.version.split()[0], "platform": platform.platform()}


class LoadSampler:
    """``async with`` it around the run; ``samples`` holds the 1-minute load average."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.samples: list[float] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self.samples.append(round(os.getloadavg()[0], 2))
            await trio.sleep(self.interval)
