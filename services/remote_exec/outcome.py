"""How a command ended, in the server's terms and in the protocol's (EXIT's ``reason``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.remote_exec.events import Reason


class Stop(enum.Enum):
    """Why a command was ended (first one wins)."""

    EXITED = "exited"
    TIMEOUT = "timeout"
    OUTPUT_LIMIT = "output-limit"
    CANCELLED = "cancelled"
    SHUTDOWN = "shutdown"
    DISCONNECTED = "disconnected"  # the client left: nobody to tell


WIRE_REASON = {
    Stop.TIMEOUT: Reason.TIMEOUT,
    Stop.OUTPUT_LIMIT: Reason.OUTPUT_LIMIT,
    Stop.CANCELLED: Reason.CANCELLED,
    Stop.SHUTDOWN: Reason.SHUTDOWN,
    Stop.DISCONNECTED: Reason.CANCELLED,
}

@dataclass(frozen=True)
class Limits:
    """The limits one command runs under."""

    timeout: float
    output_limit: int


@dataclass(frozen=True)
class Outcome:
    """How a command ended; ``reason`` is what EXIT reports."""

    pid: int
    stop: Stop
    status: int | None
    signal: str | None
    elapsed: float
    stdout_bytes: int
    stderr_bytes: int

    @property
    def reason(self) -> Reason:
        if self.stop is Stop.EXITED:
            return Reason.EXIT if self.status is not None else Reason.SIGNAL
        return WIRE_REASON[self.stop]
