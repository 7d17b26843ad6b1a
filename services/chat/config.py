"""The chat server's settings (CLI → this frozen config → ``main`` → components)."""

from __future__ import annotations

from dataclasses import dataclass

import click

from services.chat.detect import DEFAULT_WINDOW
from services.chat.directory import NOTICE_LIMIT
from services.chat.protocol import DEFAULT_MAX_LINE, MAX_LINE_LIMIT
from services.runtime.config import ServerConfig
from services.runtime.options import setting

DEFAULT_PORT = 8000
# Lines waiting for one client before it counts as a slow consumer. A healthy
# client's writer empties its queue every scheduler pass, and each sender hands
# over one line per pass, so a healthy queue holds about one line per sender.
DEFAULT_QUEUE_SIZE = 1024
# Lines per second one client may send, after a burst of as many; faster
# senders are slowed down (not disconnected). 0 turns the limit off.
DEFAULT_MAX_RATE = 500.0
# Refused lines one client may send at once (refilled one a second) before it
# is disconnected with too-many-errors; see services.chat.errorbudget.
DEFAULT_MAX_ERRORS = 20


@dataclass(frozen=True, kw_only=True)
class ChatConfig(ServerConfig):
    """``ServerConfig`` plus chat's own limits.

    ``max_line``: bytes in one client line (longer ones are refused).
    ``classic_window``: seconds after the first byte in which a ``\\n`` must
    arrive for line mode; otherwise the client is the tutorial's (classic).
    ``queue_size``: lines queued for one client before it is disconnected as a
    slow consumer. ``max_rate``: lines per second handled from one client
    (burst: as many); 0 means no limit. ``max_errors``: refused lines a client
    may send in a burst (then one a second) before it is disconnected; 0 means
    no limit. ``notice_limit``: rooms with more
    members than this get no join/leave/rename notices. ``console``: read operator commands
    from stdin.
    """

    queue_size: int = setting(
        DEFAULT_QUEUE_SIZE, type=click.IntRange(min=1),
        help="Lines queued for one client before it is dropped as a slow consumer.",
    )
    max_line: int = setting(
        DEFAULT_MAX_LINE, type=click.IntRange(16, MAX_LINE_LIMIT),
        help="Longest line a client may send, in bytes.",
    )
    classic_window: float = setting(
        DEFAULT_WINDOW, type=click.FloatRange(0, 10, min_open=True),
        help="Seconds after a client's first byte to wait for a newline before "
             "treating it as the tutorial's (classic) client.",
    )
    max_rate: float = setting(
        DEFAULT_MAX_RATE, type=click.FloatRange(min=0),
        help="Lines per second read from one client (after a burst of as many); "
             "faster senders are slowed down. 0: no limit.",
    )
    max_errors: int = setting(
        DEFAULT_MAX_ERRORS, type=click.IntRange(min=0),
        help="Refused lines a client may send in a burst (then one a second) before "
             "it is disconnected with too-many-errors. 0: no limit.",
    )
    notice_limit: int = setting(
        NOTICE_LIMIT, type=click.IntRange(min=0),
        help="Rooms with more members than this get no join/leave/rename notices.",
    )
    console: bool = setting(
        True,
        help="Read operator commands from stdin and show what classic clients say on stdout.",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 16 <= self.max_line <= MAX_LINE_LIMIT:
            raise ValueError(f"max_line must be between 16 and {MAX_LINE_LIMIT}")
        if not 0 < self.classic_window <= 10:
            raise ValueError("classic_window must be in (0, 10] seconds")
        if self.notice_limit < 0:
            raise ValueError("notice_limit must not be negative")
        if self.max_errors < 0:
            raise ValueError("max_errors must not be negative")
        if self.max_rate < 0:
            raise ValueError("max_rate must not be negative")
