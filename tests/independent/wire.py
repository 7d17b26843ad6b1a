"""What every netlab-mode client needs, written from docs/reference/protocol/overview.md alone.

The preface, frames (a kind byte, a big-endian u32 length, the payload) and
the JSON rules, over a plain blocking socket. Nothing of netlab's code is
imported (``tests/independent/test_independence.py`` checks): if these
clients pass against netlab's servers, the reference is precise enough to
write a client from.

Every read has a deadline (the socket's timeout); a server that breaks a
rule of the reference raises :class:`Violation`, which the tests never
expect.
"""

from __future__ import annotations

import json
import math
import socket
import struct
from typing import Any

HEADER = struct.Struct(">BI")  # kind, length
MAX_CONTROL = 64 * 1024
MAX_DATA = 1024 * 1024
TIMEOUT = 10.0


class Violation(AssertionError):
    """The server did something the reference says it must not."""


class Closed(Exception):
    """The server closed the connection."""


class ServerError(Exception):
    """An ERROR message: ``code``, ``message``, and whether the connection closes."""

    def __init__(self, code: str, message: str, fatal: bool) -> None:
        super().__init__(f"{code}: {message} (fatal={fatal})")
        self.code = code
        self.message = message
        self.fatal = fatal


def preface(service: str) -> bytes:
    """``%x00 "netlab/1" SP service LF``."""
    return b"\x00netlab/1 " + service.encode("ascii") + b"\n"


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def encode_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise Violation(f"duplicate key {key!r} in a server's JSON")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise Violation(f"{name} in a server's JSON")


def decode_json(payload: bytes) -> dict[str, Any]:
    """A control payload by the reference's JSON rules (the server must follow them too)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Violation(f"a control payload that is not UTF-8: {exc}") from None
    if text.startswith("\ufeff"):
        raise Violation("a byte order mark")
    obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    if not isinstance(obj, dict):
        raise Violation(f"a control payload that is not an object: {obj!r}")
    return obj


def field(obj: dict[str, Any], name: str, kind: str, *, required: bool = True,
          default: Any = None) -> Any:
    """``obj[name]`` checked against its JSON type; ``null`` is absent."""
    value = obj.get(name)
    if value is None:
        if required:
            raise Violation(f"required field {name!r} missing or null in {obj!r}")
        return default
    ok = {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool)
        and math.isfinite(value),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }[kind]
    if not ok:
        raise Violation(f"field {name!r} is not a JSON {kind}: {value!r}")
    if kind == "integer" and not 0 <= value <= 2**63 - 1:
        raise Violation(f"integer field {name!r} out of range: {value}")
    return value


class Peer:
    """One connection, as bytes and frames, every wait bounded by ``timeout``."""

    def __init__(self, host: str, port: int, *, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, kind: int, payload: bytes = b"") -> None:
        self.send(frame(kind, payload))

    def send_json(self, kind: int, obj: dict[str, Any]) -> None:
        self.send_frame(kind, encode_json(obj))

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            raise Closed("the server reset the connection") from None
        if not data:
            raise Closed("the server closed the connection")
        self._buffer += data

    def read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_line(self, limit: int) -> bytes:
        """One line without its ``\\n`` (at most ``limit`` bytes before it)."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise Violation(f"a server line longer than {limit} bytes")
            self._fill()
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        if len(line) > limit:
            raise Violation(f"a server line longer than {limit} bytes")
        return line

    def read_frame(self, limits: dict[int, int]) -> tuple[int, bytes]:
        """The next frame; ``limits``: the largest payload of each kind the server may send."""
        kind, length = HEADER.unpack(self.read_exact(HEADER.size))
        if kind not in limits:
            raise Violation(f"kind 0x{kind:02x}: not one the server sends")
        if length > limits[kind]:
            raise Violation(f"kind 0x{kind:02x} with {length} bytes: over its limit")
        return kind, self.read_exact(length)

    def at_eof(self) -> bool:
        """True once the server has closed (and sent nothing more), within the timeout."""
        if self._buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def error_from(obj: dict[str, Any], *, answering: bool) -> ServerError:
    """An ERROR message (``answering``: it answers a request, so it may be not fatal)."""
    code = field(obj, "code", "string")
    message = field(obj, "message", "string", required=False, default="")
    fatal = field(obj, "fatal", "boolean", required=False, default=not answering)
    if "fatal" not in obj or obj["fatal"] is None:
        raise Violation("the server MUST send fatal in every ERROR")
    if not fatal and not answering:
        raise Violation(f"a non-fatal ERROR {code!r} that answers no request")
    if len(message) > 4096:
        raise Violation("an ERROR message over 4096 characters")
    return ServerError(code, message, fatal)
