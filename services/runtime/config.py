"""Configuration shared by every server. Service configs subclass :class:`ServerConfig`.

Configuration flows one way: CLI flags (or ``NETLAB_*`` env vars, read by the
CLI) → keyword-only ``run()`` → a frozen config → components.
"""

from __future__ import annotations

from dataclasses import dataclass

ENV_PREFIX = "NETLAB_"


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Settings every server has.

    ``port=0`` asks the OS for a free port (tests); ``serve`` reports the bound
    port through ``task_status``. Every wait on a peer is bounded by
    ``idle_timeout`` (receiving) or ``send_timeout`` (a peer not reading).
    """

    host: str = "127.0.0.1"
    port: int = 0
    max_clients: int = 1000
    idle_timeout: float = 300.0
    send_timeout: float = 10.0
    grace_period: float = 5.0
    queue_size: int = 256
    stats_port: int | None = None
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        if self.max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        for name in ("idle_timeout", "send_timeout", "grace_period"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")


def env_name(option: str) -> str:
    """The env var that sets a CLI option: ``idle-timeout`` → ``NETLAB_IDLE_TIMEOUT``."""
    return ENV_PREFIX + option.upper().replace("-", "_")
