"""The wire layer's errors: one small hierarchy shared by every protocol.

``ProtocolError``
    Base class. Carries an :class:`ErrorCode` (a stable, documented name that
    also travels on the wire in netlab mode) and a human-readable message.
``RemoteProtocolError``
    The *peer* broke the protocol: malformed bytes, an oversized line or frame,
    a message in the wrong state. A server answers it with an error message
    (netlab mode) or by closing the connection (classic mode).
``LocalProtocolError``
    *We* tried to do something the protocol forbids (send an event in the
    wrong state, encode an oversized payload). A bug in the calling code.

A parser never raises anything else on arbitrary input; the property tests
check that.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Stable error names; ``docs/protocol.md`` lists each with its meaning."""

    LINE_TOO_LONG = "line-too-long"
    FRAME_TOO_LARGE = "frame-too-large"
    BAD_ENCODING = "bad-encoding"
    BAD_MESSAGE = "bad-message"
    BAD_PREFACE = "bad-preface"
    UNEXPECTED = "unexpected-message"
    TRUNCATED = "truncated"
    BAD_STATE = "bad-state"


class ProtocolError(Exception):
    """Base class of every wire-level error; never raised directly."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise RemoteProtocolError or LocalProtocolError")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol."""


class LocalProtocolError(ProtocolError):
    """This side tried to send something the protocol forbids."""
