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

:class:`ErrorSpec` is one row of a service's error table (``ERRORS`` in each
service's ``events.py``): a code the server sends, whether the connection
closes after it, and when it is sent. Servers check each ERROR they send
against their table (:func:`check_sent`), and the protocol reference's error
tables are generated from them, so neither can drift from the code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class ErrorCode(enum.StrEnum):
    """Stable error names; ``docs/reference/protocol/overview.md`` lists each with its meaning."""

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


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One error a server sends: its code, whether it closes the connection, and when.

    ``fatal``: ``True`` the connection always closes after it, ``False`` it
    never does, ``None`` it depends (``when`` says on what; the ERROR's own
    ``fatal`` field tells the client each time).
    """

    code: str
    fatal: bool | None
    when: str


# The common codes as the framed services (exec, upload) send them: a peer that
# breaks the protocol gets one last ERROR, then the connection closes.
FRAMED_PROTOCOL_ERRORS: tuple[ErrorSpec, ...] = (
    ErrorSpec(ErrorCode.BAD_PREFACE, True,
              "the first byte is NUL but this service's preface does not follow"),
    ErrorSpec(ErrorCode.BAD_MESSAGE, True,
              "an unknown kind byte, a payload that is not a JSON object, a field missing, "
              "of the wrong type or out of range, a duplicate key, NaN or Infinity"),
    ErrorSpec(ErrorCode.BAD_ENCODING, True,
              "a control payload that is not UTF-8, or a string with a lone surrogate escape"),
    ErrorSpec(ErrorCode.UNEXPECTED, True,
              "a kind only the server sends, or a message the state does not allow "
              "(such as a second request before the answer to the first has ended)"),
    ErrorSpec(ErrorCode.FRAME_TOO_LARGE, True,
              "a frame header announcing more than the kind's payload limit"),
    ErrorSpec(ErrorCode.TRUNCATED, True,
              "the client closed its side inside a frame (rarely seen: it has gone)"),
)


def error_table(specs: Iterable[ErrorSpec]) -> Mapping[str, ErrorSpec]:
    """The specs by code; a code listed twice is a bug."""
    table: dict[str, ErrorSpec] = {}
    for spec in specs:
        if spec.code in table:
            raise ValueError(f"error code {spec.code} listed twice")
        table[str(spec.code)] = spec
    return table


def check_sent(table: Mapping[str, ErrorSpec], code: str, fatal: bool) -> None:
    """Raise :class:`LocalProtocolError` unless ``table`` allows sending ``code`` so."""
    spec = table.get(code)
    if spec is None:
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, f"error code {code!r} is not in the "
                                 "service's error table")
    if spec.fatal is not None and spec.fatal is not fatal:
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, f"error {code} is "
                                 f"{'always' if spec.fatal else 'never'} fatal")
