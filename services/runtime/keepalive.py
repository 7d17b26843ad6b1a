"""How long a vanished peer may hold a connection: TCP keepalive and ``TCP_USER_TIMEOUT``.

A peer that disappears without FIN or RST (its container cut off the
network, its machine dead) leaves a half-open connection: a server that is
only waiting to read never hears of it, and data it sent is retransmitted
for about 15 minutes (``tcp_retries2``). The ``keepalive`` setting (seconds,
0 = off) bounds both:

* keepalive probes start after ``keepalive / 2`` seconds of silence and are
  repeated every ``keepalive / 6`` seconds, :data:`PROBES` of them, so an
  unanswered peer is given up about ``keepalive`` seconds after it last
  answered;
* ``TCP_USER_TIMEOUT`` (``keepalive`` in ms) gives up on data, or on a
  zero-window probe, unacknowledged for that long. On Linux it also decides
  when unanswered keepalive probes end the connection.

The kernel then fails the socket with ``ETIMEDOUT`` (or ``ECONNRESET``, when
a rebooted peer answers a probe with a reset): the next receive or send
raises, and the runtime reports it as it reports any reset.

Error handling: each option is set only where the platform has it and
accepts it; an ``OSError`` (a closed socket, a non-TCP socket) skips that
option. :func:`set_keepalive` returns what it set, so callers and tests can
tell.
"""

from __future__ import annotations

import math
import socket
from typing import Any

PROBES = 3
MAX_PROBE_INTERVAL = 32767
"""The kernel's limit on ``TCP_KEEPIDLE`` and ``TCP_KEEPINTVL`` (seconds)."""
MIN_KEEPALIVE = 1.0
MAX_KEEPALIVE = 2.0 * MAX_PROBE_INTERVAL
"""Longest ``keepalive`` whose first probe (after half of it) the kernel accepts."""


def check_keepalive(seconds: float) -> None:
    """Raise ``ValueError`` unless ``seconds`` is 0 (off) or a keepalive the kernel accepts."""
    if seconds != 0 and not MIN_KEEPALIVE <= seconds <= MAX_KEEPALIVE:
        raise ValueError(
            f"keepalive must be 0 (off) or between {MIN_KEEPALIVE:g} and {MAX_KEEPALIVE:g} s"
        )


def keepalive_options(seconds: float) -> dict[str, tuple[int, int, int]]:
    """The socket options ``keepalive = seconds`` means: name → (level, option, value).

    Empty for 0 (off). Options this platform lacks are left out. Times are
    whole seconds of at least 1 (the kernel's unit); the user timeout is in ms.
    """
    if seconds == 0:
        return {}
    wanted: dict[str, tuple[int, str, int]] = {
        "SO_KEEPALIVE": (socket.SOL_SOCKET, "SO_KEEPALIVE", 1),
        "TCP_KEEPIDLE": (socket.IPPROTO_TCP, "TCP_KEEPIDLE", _whole_seconds(seconds / 2)),
        "TCP_KEEPINTVL": (socket.IPPROTO_TCP, "TCP_KEEPINTVL", _whole_seconds(seconds / 6)),
        "TCP_KEEPCNT": (socket.IPPROTO_TCP, "TCP_KEEPCNT", PROBES),
        "TCP_USER_TIMEOUT": (socket.IPPROTO_TCP, "TCP_USER_TIMEOUT", round(seconds * 1000)),
    }
    return {
        name: (level, getattr(socket, option), value)
        for name, (level, option, value) in wanted.items()
        if hasattr(socket, option)
    }


def set_keepalive(sock: Any, seconds: float) -> dict[str, int]:
    """Apply ``keepalive = seconds`` to ``sock``; the options set, by name, with their values.

    ``sock`` may be ``None`` (a stream without a socket, as in memory-stream
    tests): nothing is set. With ``seconds == 0`` nothing is set either: the
    socket keeps the kernel's defaults (keepalive off).
    """
    applied: dict[str, int] = {}
    if sock is None:
        return applied
    for name, (level, option, value) in keepalive_options(seconds).items():
        try:
            sock.setsockopt(level, option, value)
        except (OSError, AttributeError):  # closed already, not TCP, or refused here
            continue
        applied[name] = value
    return applied


def _whole_seconds(seconds: float) -> int:
    return min(MAX_PROBE_INTERVAL, max(1, math.floor(seconds)))
