"""When the kernel acknowledges what a peer sent: at once, or delayed (Linux ``TCP_QUICKACK``).

The tutorial's blocking clients leave Nagle's algorithm on: a small send
waits while an earlier small send is unacknowledged. Linux delays an ACK
(up to about 40 ms) once a connection looks interactive, so the two meet:

* exec: the client's ``ok`` is unacknowledged, so its next command waits for
  the delayed ACK. :func:`ack_now` after each receive removes the stall.
* upload: the same rule *helps*. While the server has not acknowledged a
  header, the client's first 1024-byte ``sendall`` waits, so the header
  arrives alone, as the tutorial's server relies on. :func:`delay_acks`
  before a header is due (on a listening socket: inherited by every accepted
  connection, before its first byte) and :func:`ack_now` once it is read give
  that boundary without the stall.

``TCP_QUICKACK`` is not sticky: the kernel goes back to delaying by itself,
so :func:`ack_now` is called after every receive that needs it. Elsewhere
(no such option, or a stream without a socket, as in memory-stream tests)
both functions do nothing: the behaviour is then the kernel's default.
"""

from __future__ import annotations

import socket
from typing import Any

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def _set_quickack(sock: Any, value: int) -> bool:
    if QUICKACK is None or sock is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, value)
    except (OSError, AttributeError):  # closed already, or not a TCP socket
        return False
    return True


def ack_now(stream: object) -> bool:
    """Acknowledge what ``stream``'s socket received, now; True if the option was set."""
    return _set_quickack(getattr(stream, "socket", None), 1)


def delay_acks(stream_or_listener: object) -> bool:
    """Let the kernel delay the next ACK on this socket (or on every connection it accepts)."""
    return _set_quickack(getattr(stream_or_listener, "socket", None), 0)
