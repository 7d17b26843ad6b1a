"""Configuration shared by every server. Service configs subclass :class:`ServerConfig`.

Configuration flows one way: CLI flags (or ``NETLAB_*`` env vars) → one
frozen config → ``main(config, Server)`` → components. Each field declared
with :func:`~services.runtime.options.setting` is also a command-line option;
the others (``queue_size`` here) are tuning knobs for tests and code.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from services.runtime.keepalive import check_keepalive
from services.runtime.options import DURATION, PORT, setting


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Settings every server has.

    ``port=0`` asks the OS for a free port (tests); ``serve`` reports the bound
    port through ``task_status``. Every wait on a peer is bounded by
    ``idle_timeout`` (receiving) or ``send_timeout`` (a peer not reading); a
    peer that vanished without a FIN or a reset is given up after about
    ``keepalive`` seconds (:mod:`services.runtime.keepalive`).
    """

    host: str = setting("127.0.0.1", help="Address to listen on (0.0.0.0 in containers).")
    port: int = setting(0, type=PORT, help="Port to listen on; 0 picks a free one.")
    max_clients: int = setting(
        10_000, type=click.IntRange(min=1),
        help="Connections served at once; more are refused with a reason.",
    )
    idle_timeout: float = setting(
        300.0, type=DURATION,
        help="Seconds a client may stay silent before it is disconnected.",
    )
    # Long enough for a person typing the first command into the tutorial's exec
    # client; short enough that silent connections do not pile up.
    handshake_timeout: float = setting(
        30.0, type=DURATION,
        help="Seconds a new client has to send its first message (exec, upload).",
    )
    send_timeout: float = setting(
        10.0, type=DURATION,
        help="Seconds a client may leave our bytes unread before it is disconnected.",
    )
    # Well below the idle timeout: a listener that stays silent for minutes is
    # normal, a peer whose kernel stopped answering is not.
    keepalive: float = setting(
        30.0, type=click.FloatRange(min=0),
        help="Seconds after which a peer that stopped answering (no FIN, no reset: "
             "its machine or network gone) is disconnected; 0 = off.",
    )
    grace_period: float = setting(
        5.0, type=DURATION, help="Seconds in-flight work may take to finish after SIGTERM."
    )
    queue_size: int = 256
    stats_port: int | None = setting(
        None, type=PORT, help="Serve a JSON line of the server's counters on this port."
    )
    log_level: str = setting(
        "info", type=click.Choice(["debug", "info", "warning", "error"]),
        help="Log verbosity (structured lines on stderr).",
    )

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        if self.max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        for name in ("idle_timeout", "handshake_timeout", "send_timeout", "grace_period"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        check_keepalive(self.keepalive)
        if self.queue_size < 1:
            raise ValueError("queue_size must be at least 1")
