"""netlab's frames (kind byte, u32 length, payload) over a blocking socket, as a twin reads them.

Just enough of the protocol reference's framing (docs/reference/protocol/)
for netlab's own client libraries to talk to a twin: the preface check, one
frame at a time, JSON control payloads. Written the blocking way, like the
rest of the twins; the real servers use the sans-IO parsers in ``services/``.

Error handling: a frame announcing more than :data:`MAX_FRAME` bytes, or a
preface that is not the expected one, raises :class:`BadFrame`; the end of
the connection in the middle of a frame reads as ``None`` (like EOF).
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">BI")
MAX_FRAME = 2 * 1024 * 1024  # netlab's clients send at most 1 MiB per frame
RECV_SIZE = 65536


class BadFrame(Exception):
    """The peer sent bytes that are not netlab frames."""


def preface(service: str) -> bytes:
    """The bytes a netlab client sends first (``\\0netlab/1 SERVICE\\n``)."""
    return b"\0netlab/1 " + service.encode("ascii") + b"\n"


class FrameSocket:
    """Reads frames from ``sock`` (starting with ``pending`` bytes already received),
    ``recv_size`` bytes a ``recv`` at most, refusing frames over ``max_frame``."""

    def __init__(self, sock: socket.socket, pending: bytes = b"", *,
                 recv_size: int = RECV_SIZE, max_frame: int = MAX_FRAME) -> None:
        self.sock = sock
        self.buffer = bytearray(pending)
        self.recv_size = recv_size
        self.max_frame = max_frame

    def read_exact(self, size: int) -> bytes | None:
        """Exactly ``size`` bytes, or None if the connection ends first."""
        while len(self.buffer) < size:
            data = self.sock.recv(self.recv_size)
            if not data:
                return None
            self.buffer += data
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        return chunk

    def expect_preface(self, service: str) -> bool:
        """Consume the preface; False if the connection ended before it."""
        expected = preface(service)
        data = self.read_exact(len(expected))
        if data is None:
            return False
        if data != expected:
            raise BadFrame(f"not the {service} preface: {data!r}")
        return True

    def read_header(self) -> tuple[int, int] | None:
        """The next frame's (kind, length), or None when the connection ends."""
        header = self.read_exact(HEADER.size)
        if header is None:
            return None
        kind, length = HEADER.unpack(header)
        if length > self.max_frame:
            raise BadFrame(f"frame of {length} bytes")
        return kind, length

    def read_frame(self) -> tuple[int, bytes] | None:
        """The next (kind, payload), or None when the connection ends."""
        header = self.read_header()
        if header is None:
            return None
        kind, length = header
        payload = self.read_exact(length)
        if payload is None:
            return None
        return kind, payload

    def stream_payload(self, length: int, sink: Callable[[bytes], object]) -> bool:
        """Hand a payload to ``sink`` piece by piece as it arrives; False if cut short."""
        while length > 0:
            if not self.buffer:
                data = self.sock.recv(min(self.recv_size, length))
                if not data:
                    return False
                self.buffer += data
            piece = bytes(self.buffer[:length])
            del self.buffer[:length]
            sink(piece)
            length -= len(piece)
        return True

    def send(self, kind: int, payload: bytes = b"") -> None:
        self.sock.sendall(HEADER.pack(kind, len(payload)) + payload)

    def send_json(self, kind: int, obj: dict[str, Any]) -> None:
        self.send(kind, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def json_object(payload: bytes) -> dict[str, Any]:
    """A control payload as a dict; :class:`BadFrame` if it is not a JSON object."""
    try:
        obj = json.loads(payload.decode("utf-8"))
    except ValueError as exc:
        raise BadFrame(f"control message is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadFrame("control message is not a JSON object")
    return obj
