"""Length-prefixed binary frames: the framing of netlab mode for exec and upload.

Layout of one frame (network byte order)::

    +--------+----------------+------------------+
    | kind   | length         | payload          |
    | 1 byte | 4 bytes, u32   | ``length`` bytes |
    +--------+----------------+------------------+

``kind`` is a message type whose meaning each service defines. Control
messages carry a UTF-8 JSON object as payload (see :func:`decode_json`); data
messages carry raw bytes. Every decoder has a ``max_payload`` limit: a header
announcing more raises ``FRAME_TOO_LARGE`` before any of the payload is buffered.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

HEADER = struct.Struct("!BI")
HEADER_SIZE = HEADER.size
DEFAULT_MAX_PAYLOAD = 1 << 20
MAX_JSON_PAYLOAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame."""

    kind: int
    payload: bytes


def encode_frame(kind: int, payload: bytes = b"", *, max_payload: int = 1 << 31) -> bytes:
    """Encode one frame. Raises :class:`LocalProtocolError` if it cannot be sent."""
    if not 0 <= kind <= 0xFF:
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, f"frame kind {kind} out of range")
    if len(payload) > max_payload:
        raise LocalProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"payload of {len(payload)} bytes exceeds {max_payload}"
        )
    return HEADER.pack(kind, len(payload)) + payload


class FrameDecoder:
    """Incremental frame parser: ``receive_data`` bytes, then ``next_frame`` until NEED_DATA.

    At EOF, a partial frame raises ``TRUNCATED``; a clean boundary yields ``CLOSED``.
    """

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if max_payload < 0:
            raise ValueError("max_payload must not be negative")
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._eof = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a frame."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("data received after EOF")
            return
        if not data:
            self._eof = True
        else:
            self._buffer += data

    def next_frame(self) -> Frame | NeedData | Closed:
        """Return the next complete frame, ``NEED_DATA`` or ``CLOSED``."""
        if len(self._buffer) >= HEADER_SIZE:
            kind, length = HEADER.unpack_from(self._buffer)
            if length > self.max_payload:
                raise RemoteProtocolError(
                    ErrorCode.FRAME_TOO_LARGE,
                    f"frame of {length} bytes exceeds the limit of {self.max_payload}",
                )
            end = HEADER_SIZE + length
            if len(self._buffer) >= end:
                payload = bytes(self._buffer[HEADER_SIZE:end])
                del self._buffer[:end]
                return Frame(kind, payload)
        if not self._eof:
            return NEED_DATA
        if self._buffer:
            raise RemoteProtocolError(
                ErrorCode.TRUNCATED, f"connection closed inside a frame ({len(self._buffer)} bytes)"
            )
        return CLOSED


def encode_json(obj: dict[str, Any]) -> bytes:
    """Encode a control message's JSON payload (compact, UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_json(payload: bytes, *, limit: int = MAX_JSON_PAYLOAD) -> dict[str, Any]:
    """Decode a control payload; anything but a JSON object raises ``BAD_MESSAGE``."""
    if len(payload) > limit:
        raise RemoteProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"control message of {len(payload)} bytes exceeds {limit}"
        )
    try:
        obj = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise RemoteProtocolError(ErrorCode.BAD_ENCODING, "control message is not UTF-8") from None
    except (ValueError, RecursionError):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "control message is not JSON") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "control message is not a JSON object")
    return obj


def require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """Fetch a required field of a control message, checking its JSON type."""
    value = obj.get(key)
    # bool is an int subclass in Python but not a number in the protocol.
    if value is None or not isinstance(value, kind) or (
        isinstance(value, bool) and kind is not bool
    ):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"field {key!r} missing or mistyped")
    return value
