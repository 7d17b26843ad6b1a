"""Exec messages ↔ frame payloads: the kind byte of each message and its JSON fields.

Every message is one frame of :mod:`services.wire.frames` (kind byte, u32
length, payload). Control messages carry a JSON object; STDIN, STDOUT and
STDERR carry raw bytes; STDIN_EOF and CANCEL carry nothing. This module
checks each field's JSON type and range; *meaning* (is the token right, may
the command run now) is the server's business.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from services.remote_exec.events import (
    Cancel,
    Error,
    Event,
    Exit,
    Queued,
    Reason,
    Run,
    Started,
    Stderr,
    Stdin,
    StdinEof,
    Stdout,
)
from services.wire.errors import ErrorCode, RemoteProtocolError
from services.wire.frames import decode_json, encode_json, require

MAX_TEXT = 4096  # error messages, signal names
MAX_CODE = 64  # error codes
MAX_COUNT = (1 << 63) - 1


class Kind(enum.IntEnum):
    """The kind byte of each exec message (client → server below 0x10)."""

    RUN = 0x01
    STDIN = 0x02
    STDIN_EOF = 0x03
    CANCEL = 0x04
    QUEUED = 0x10
    STARTED = 0x11
    STDOUT = 0x12
    STDERR = 0x13
    EXIT = 0x14
    ERROR = 0x15


KIND_OF: dict[type, Kind] = {
    Run: Kind.RUN,
    Stdin: Kind.STDIN,
    StdinEof: Kind.STDIN_EOF,
    Cancel: Kind.CANCEL,
    Queued: Kind.QUEUED,
    Started: Kind.STARTED,
    Stdout: Kind.STDOUT,
    Stderr: Kind.STDERR,
    Exit: Kind.EXIT,
    Error: Kind.ERROR,
}
DATA_KINDS = frozenset({Kind.STDIN, Kind.STDOUT, Kind.STDERR})
EMPTY_KINDS = frozenset({Kind.STDIN_EOF, Kind.CANCEL})
CONTROL_KINDS = frozenset(Kind) - DATA_KINDS - EMPTY_KINDS
CLIENT_KINDS = frozenset({Kind.RUN, Kind.STDIN, Kind.STDIN_EOF, Kind.CANCEL})


def encode_payload(event: Event) -> bytes:
    """The payload of ``event``'s frame."""
    match event:
        case Stdin(data) | Stdout(data) | Stderr(data):
            return data
        case StdinEof() | Cancel():
            return b""
        case Run():
            obj: dict[str, Any] = {"command": event.command, "token": event.token}
            if event.timeout is not None:
                obj["timeout"] = event.timeout
            if event.stdin:
                obj["stdin"] = True
            return encode_json(obj)
        case Queued():
            return encode_json({"position": event.position, "timeout": event.timeout})
        case Started():
            return encode_json(
                {"pid": event.pid, "timeout": event.timeout, "output_limit": event.output_limit}
            )
        case Exit():
            return encode_json({
                "status": event.status, "signal": event.signal, "reason": str(event.reason),
                "elapsed": round(event.elapsed, 6), "stdout_bytes": event.stdout_bytes,
                "stderr_bytes": event.stderr_bytes,
            })
        case Error():
            return encode_json({"code": event.code, "message": event.message[:MAX_TEXT],
                                "fatal": event.fatal})
    raise TypeError(f"not an exec event: {event!r}")


def decode_payload(kind: Kind, payload: bytes, *, fatal_default: bool = False) -> Event:
    """The event a frame of ``kind`` carries; raises RemoteProtocolError if malformed.

    ``fatal_default``: what an ERROR without ``fatal`` (from a server older
    than the field's rule) means; the connection passes its state's answer.
    """
    if kind is Kind.STDIN:
        return Stdin(payload)
    if kind is Kind.STDOUT:
        return Stdout(payload)
    if kind is Kind.STDERR:
        return Stderr(payload)
    if kind in EMPTY_KINDS:
        if payload:
            raise _bad(f"{kind.name} carries no payload")
        return StdinEof() if kind is Kind.STDIN_EOF else Cancel()
    obj = decode_json(payload)
    if kind is Kind.RUN:
        return Run(
            command=_text(obj, "command", limit=None),
            token=_text(obj, "token", limit=None),
            timeout=_optional_seconds(obj, "timeout"),
            stdin=_optional_bool(obj, "stdin"),
        )
    if kind is Kind.QUEUED:
        return Queued(position=_count(obj, "position", minimum=1), timeout=_seconds(obj, "timeout"))
    if kind is Kind.STARTED:
        return Started(pid=_count(obj, "pid", minimum=1), timeout=_seconds(obj, "timeout"),
                       output_limit=_count(obj, "output_limit"))
    if kind is Kind.EXIT:
        return _exit(obj)
    code = _text(obj, "code", limit=MAX_CODE)
    if not code:
        raise _bad("field 'code' is empty")
    return Error(code=code,
                 message=_text(obj, "message", required=False),
                 fatal=_optional_bool(obj, "fatal", default=fatal_default))


def _exit(obj: dict[str, Any]) -> Exit:
    status = obj.get("status")
    signal = obj.get("signal")
    if (status is None) == (signal is None):
        raise _bad("EXIT needs exactly one of 'status' and 'signal'")
    if status is not None:
        status = _count(obj, "status")
        if status > 255:
            raise _bad("EXIT status out of range")
    if signal is not None:
        signal = _text(obj, "signal")
    try:
        reason = Reason(_text(obj, "reason"))
    except ValueError:
        raise _bad("EXIT reason unknown") from None
    return Exit(status=status, signal=signal, reason=reason,
                elapsed=_seconds(obj, "elapsed", positive=False),
                stdout_bytes=_count(obj, "stdout_bytes"), stderr_bytes=_count(obj, "stderr_bytes"))


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(ErrorCode.BAD_MESSAGE, message)


def _text(obj: dict[str, Any], key: str, *, limit: int | None = MAX_TEXT,
          required: bool = True) -> str:
    if not required and key not in obj:  # absent or null
        return ""
    value: str = require(obj, key, str)
    if limit is not None and len(value) > limit:
        raise _bad(f"field {key!r} longer than {limit}")
    return value


def _count(obj: dict[str, Any], key: str, *, minimum: int = 0) -> int:
    value: int = require(obj, key, int)
    if not minimum <= value <= MAX_COUNT:
        raise _bad(f"field {key!r} out of range")
    return value


def _seconds(obj: dict[str, Any], key: str, *, positive: bool = True) -> float:
    try:
        value = float(require(obj, key, (int, float)))
    except OverflowError:  # an integer too large for a float
        raise _bad(f"field {key!r} out of range") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise _bad(f"field {key!r} out of range")
    return value


def _optional_seconds(obj: dict[str, Any], key: str) -> float | None:
    return None if obj.get(key) is None else _seconds(obj, key)


def _optional_bool(obj: dict[str, Any], key: str, *, default: bool = False) -> bool:
    if key not in obj:  # absent or null
        return default
    value: bool = require(obj, key, bool)
    return value
