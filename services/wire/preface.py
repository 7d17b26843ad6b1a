"""How a server tells netlab's protocol from the tutorial's classic bytes on one port.

Every netlab client opens with a *preface*: ``NUL``, ``netlab/1 ``, the service
name, ``\\n`` (for example ``b"\\x00netlab/1 exec\\n"``). The tutorial's
programs send UTF-8 text and never a NUL byte, so the first byte alone decides:

* ``0x00`` → netlab mode; the rest of the preface must follow exactly.
* anything else → the peer is not a netlab client (classic mode, or a person
  on ``nc``/``telnet``; chat tells those two apart itself, see its module).

The client always speaks first (the tutorial's clients do too), so the server
never needs to send anything before it knows the mode.
"""

from __future__ import annotations

import enum

from services.wire.errors import ErrorCode, RemoteProtocolError

PREFACE_PREFIX = b"\x00netlab/1 "
MAX_PREFACE = 64


class Sniff(enum.Enum):
    """Result of looking at the first bytes of a connection."""

    NETLAB = "netlab"
    OTHER = "other"
    NEED_DATA = "need-data"


def encode_preface(service: str) -> bytes:
    """The preface a netlab client sends first for ``service``."""
    return PREFACE_PREFIX + service.encode("ascii") + b"\n"


def sniff(data: bytes, service: str) -> tuple[Sniff, int]:
    """Classify the connection from the bytes received so far.

    Returns ``(mode, consumed)``: for ``NETLAB``, ``consumed`` is the length of
    the preface, which the caller strips; the rest of ``data`` is protocol
    bytes. For ``OTHER`` nothing is consumed. Raises ``BAD_PREFACE`` if the
    bytes start like a preface but name another service or version.
    """
    if not data:
        return Sniff.NEED_DATA, 0
    if data[0] != 0:
        return Sniff.OTHER, 0
    expected = encode_preface(service)
    if len(data) < len(expected):
        if expected.startswith(data):
            return Sniff.NEED_DATA, 0
        raise RemoteProtocolError(ErrorCode.BAD_PREFACE, _describe(data))
    if data.startswith(expected):
        return Sniff.NETLAB, len(expected)
    raise RemoteProtocolError(ErrorCode.BAD_PREFACE, _describe(data))


def _describe(data: bytes) -> str:
    head = data[:MAX_PREFACE].split(b"\n", 1)[0]
    return f"unexpected preface {head!r}"
