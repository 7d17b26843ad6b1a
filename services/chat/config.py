"""The chat server's settings (CLI → ``run()`` → this frozen config → components)."""

from __future__ import annotations

from dataclasses import dataclass

from services.chat.detect import DEFAULT_WINDOW
from services.chat.protocol import DEFAULT_MAX_LINE
from services.runtime.config import ServerConfig

DEFAULT_PORT = 8000
# Lines waiting for one client before it counts as a slow consumer. A healthy
# client's writer empties its queue every scheduler pass, and each sender hands
# over one line per pass, so a healthy queue holds about one line per sender.
DEFAULT_QUEUE_SIZE = 1024


@dataclass(frozen=True, kw_only=True)
class ChatConfig(ServerConfig):
    """``ServerConfig`` plus chat's own limits.

    ``max_line``: bytes in one client line (longer ones are refused).
    ``classic_window``: seconds after the first byte in which a ``\\n`` must
    arrive for line mode; otherwise the client is the tutorial's (classic).
    ``queue_size``: lines queued for one client before it is disconnected as a
    slow consumer. ``console``: read operator commands from stdin.
    """

    queue_size: int = DEFAULT_QUEUE_SIZE
    max_line: int = DEFAULT_MAX_LINE
    classic_window: float = DEFAULT_WINDOW
    console: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 16 <= self.max_line <= 65536:
            raise ValueError("max_line must be between 16 and 65536")
        if not 0 < self.classic_window <= 10:
            raise ValueError("classic_window must be in (0, 10] seconds")
