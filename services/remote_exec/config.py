"""The exec server's settings (see ``netlab exec serve --help``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.runtime.config import ServerConfig

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TOKEN_ENV = "NETLAB_EXEC_TOKEN"
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
    """

    token: str = field(default="", repr=False)
    shell: str = "/bin/sh"
    max_concurrent: int = 16
    max_queued: int = 64
    queue_timeout: float = 10.0
    command_timeout: float = 300.0
    output_limit: int = 1 * GiB
    classic: bool = True
    classic_output_limit: int = 64 * MiB
    kill_grace: float = 1.0
    drain_timeout: float = 1.0
    read_size: int = 256 * KiB
    pipe_size: int = 1 * MiB
    queue_size: int = 16
    subreaper: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.token:
            raise ValueError(f"a token is required: set {TOKEN_ENV} or use --token-file")
        if len(self.token) > MAX_TOKEN:
            raise ValueError(f"the token is longer than {MAX_TOKEN} characters")
        for name in ("max_concurrent", "read_size", "pipe_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("max_queued", "output_limit", "classic_output_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("queue_timeout", "command_timeout", "kill_grace", "drain_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
