"""The keepalive options of a socket, as the kernel reports them (Linux names)."""

from __future__ import annotations

import socket
from typing import Any


def keepalive_of(sock: Any) -> dict[str, int]:
    """``SO_KEEPALIVE``, ``TCP_KEEPIDLE``/``KEEPINTVL``/``KEEPCNT`` and ``TCP_USER_TIMEOUT`` of
    ``sock``."""
    return {
        "SO_KEEPALIVE": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        "TCP_KEEPIDLE": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        "TCP_KEEPINTVL": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        "TCP_KEEPCNT": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        "TCP_USER_TIMEOUT": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    }
