"""The exec server's settings (see ``netlab exec serve --help``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import click

from services.remote_exec.sandbox import parse_uid_range
from services.runtime.config import ServerConfig
from services.runtime.options import BYTE_SIZE, DURATION, setting

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
DEFAULT_PORT = 8001
TOKEN_ENV = "NETLAB_EXEC_TOKEN"
TOKEN_FILE_ENV = "NETLAB_EXEC_TOKEN_FILE"
LAB_TOKEN = "netlab-lab"  # compose.yaml's default; a lab's .env may change it
TOKEN_HINT = (
    f"pass --token or set {TOKEN_ENV} (the lab's default token is {LAB_TOKEN},"
    f" unless its .env sets {TOKEN_ENV})"
)
MAX_TOKEN = 1024


@dataclass(frozen=True, kw_only=True)
class ExecConfig(ServerConfig):
    """Settings of the exec server.

    ``token`` is the shared secret a netlab client must present with every
    RUN (never logged). At most ``max_concurrent`` commands run at once; a
    further RUN waits, ``max_queued`` at most, for up to ``queue_timeout``
    seconds, then is refused with ``busy``. A command runs for at most
    ``command_timeout`` seconds (a client may ask for less) and may print at
    most ``output_limit`` bytes (stdout + stderr); classic clients get their
    answer in one piece, so it is buffered, up to ``classic_output_limit``.
    ``kill_grace`` is the time between SIGTERM and SIGKILL of a group.
    ``queue_size`` (frames queued per connection) is small because output
    frames are large: it bounds what a slow client makes the server hold.
    ``standby``: with the sandbox on, start the next command's process ahead
    of it (:mod:`services.remote_exec.standby`).
    """

    token: str = field(default="", repr=False)
    shell: str = setting(
        "/bin/sh", help="Shell that runs each command as SHELL -c COMMAND."
    )
    max_concurrent: int = setting(
        16, type=click.IntRange(min=1), help="Commands running at once; more wait in line."
    )
    max_queued: int = setting(
        64, type=click.IntRange(min=0),
        help="Commands waiting for a slot at once; more are refused with 'busy'.",
    )
    queue_timeout: float = setting(
        10.0, type=DURATION,
        help="Seconds a command may wait for a slot before it is refused with 'busy'.",
    )
    command_timeout: float = setting(
        300.0, type=DURATION, help="Wall-time limit of a command (clients may ask for less)."
    )
    output_limit: int = setting(
        1 * GiB, type=BYTE_SIZE,
        help="Bytes of stdout+stderr a command may print before it is killed.",
    )
    classic: bool = setting(
        True,
        help="Serve the tutorial's exec client (no token: anyone who connects can run commands).",
    )
    classic_output_limit: int = setting(
        64 * MiB, type=BYTE_SIZE,
        help="Output cap for classic clients (their answer is held whole).",
    )
    classic_ack_timeout: float = setting(
        10.0, type=DURATION,
        help="Seconds a classic client has to ack an answer's length before it is disconnected.",
    )
    classic_memory: int = setting(
        96 * MiB, type=BYTE_SIZE,
        help="Bytes all classic answers may hold at once; past it a classic command is killed"
        " and new ones are refused with 'busy'.",
    )
    kill_grace: float = setting(
        1.0, type=DURATION,
        help="Seconds between SIGTERM and SIGKILL when a command's group is killed.",
    )
    sandbox_uids: str = setting(
        "20000-20999",
        help="Uids (and gids) lent one per running command, e.g. 20000-20999, used by nothing"
        " else; 'off' runs commands as the server's uid. Needs root (CAP_SETUID, CAP_SETGID,"
        " CAP_CHOWN, CAP_DAC_READ_SEARCH); without it the server logs sandbox=off.",
    )
    auth_max_failures: int = setting(
        5, type=click.IntRange(min=0),
        help="Wrong tokens from one address within a minute before its RUNs are refused"
        " for --auth-block seconds (0: no limit).",
    )
    auth_block: float = setting(
        60.0, type=DURATION,
        help="Seconds an address that sent too many wrong tokens is refused.",
    )
    auth_window: float = 60.0
    drain_timeout: float = 1.0
    read_size: int = 256 * KiB
    pipe_size: int = 1 * MiB
    queue_size: int = 16
    subreaper: bool = True
    standby: bool = True  # with the sandbox: the next command's process started ahead

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.token:
            raise ValueError(f"a token is required: set {TOKEN_ENV} or use --token-file")
        if len(self.token) > MAX_TOKEN:
            raise ValueError(f"the token is longer than {MAX_TOKEN} characters")
        for name in ("max_concurrent", "read_size", "pipe_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_queued", "output_limit", "classic_output_limit", "classic_memory"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("queue_timeout", "command_timeout", "kill_grace", "drain_timeout",
                     "classic_ack_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        uids = parse_uid_range(self.sandbox_uids)
        if uids is not None and len(uids) < self.max_concurrent:
            raise ValueError(
                f"sandbox_uids holds {len(uids)} uids, fewer than max_concurrent"
                f" ({self.max_concurrent}): one per running command"
            )
