"""Length-prefixed binary frames: the framing of netlab mode for exec and upload.

Layout of one frame (network byte order)::

    +--------+----------------+------------------+
    | kind   | length         | payload          |
    | 1 byte | 4 bytes, u32   | ``length`` bytes |
    +--------+----------------+------------------+

``kind`` is a message type whose meaning each service defines. Control
messages carry a UTF-8 JSON object as payload (see :func:`decode_json`); data
messages carry raw bytes. :class:`FrameBuffer` checks each kind's payload
limit at the header, before any of the payload is buffered, and can stream the
payload of bulk-data kinds instead of holding the whole frame.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from services.wire.buffer import ReceiveBuffer
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

HEADER = struct.Struct("!BI")
HEADER_SIZE = HEADER.size
MAX_JSON_PAYLOAD = 64 * 1024


def encode_frame(kind: int, payload: bytes = b"", *, max_payload: int = 1 << 31) -> bytes:
    """Encode one frame. Raises :class:`LocalProtocolError` if it cannot be sent."""
    return encode_header(kind, len(payload), max_payload=max_payload) + payload


def encode_header(kind: int, length: int, *, max_payload: int = 1 << 31) -> bytes:
    """The header of a frame whose ``length`` payload bytes the caller sends itself."""
    if not 0 <= kind <= 0xFF:
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, f"frame kind {kind} out of range")
    if length > max_payload:
        raise LocalProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"payload of {length} bytes exceeds {max_payload}"
        )
    return HEADER.pack(kind, length)


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """The largest payload each kind of frame may announce, checked at its header.

    ``other`` is the limit of the kinds not in ``per_kind``; ``None`` means
    those kinds are refused as soon as their first byte is in: as
    ``UNEXPECTED`` if they are in ``wrong_side`` (kinds this side sends but
    never receives), else as ``BAD_MESSAGE`` (kinds nobody sends).
    """

    per_kind: Mapping[int, int]
    other: int | None = None
    wrong_side: frozenset[int] = frozenset()

    def of(self, kind: int) -> int | None:
        """The payload limit of ``kind``; ``None`` if the kind is not accepted."""
        return self.per_kind.get(kind, self.other)


# Tuples, not frozen dataclasses: one is made per receive on the bulk-transfer path.
class Frame(NamedTuple):
    """One whole frame."""

    kind: int
    payload: bytes


class StreamStart(NamedTuple):
    """The header of a streamed frame: ``length`` payload bytes follow as :class:`StreamPart`."""

    kind: int
    length: int


class StreamPart(NamedTuple):
    """The part of a streamed frame's payload that has arrived (a view: no copy)."""

    kind: int
    data: bytes | memoryview


class FrameBuffer(ReceiveBuffer):
    """Splits a byte stream into frames: ``receive_data`` bytes, then ``next_frame``.

    A frame of a kind in ``streamed`` is handed out as it arrives: its
    :class:`StreamStart`, then one :class:`StreamPart` per call while payload
    bytes are buffered, so memory stays bounded by what was fed, never by the
    frame size. Any other frame is handed out whole as a :class:`Frame`.

    Error handling: a kind ``limits`` refuses raises ``BAD_MESSAGE`` (unknown)
    or ``UNEXPECTED`` (sent by the wrong side) as soon as its first byte is
    in; a header announcing more than the kind's limit raises
    ``FRAME_TOO_LARGE`` before any of the payload is buffered; EOF inside a
    frame raises ``TRUNCATED``; a clean boundary at EOF yields ``CLOSED``.
    """

    def __init__(self, limits: FrameLimits, streamed: Container[int] = frozenset()) -> None:
        super().__init__()
        self.limits = limits
        self.streamed = streamed
        self._stream_kind = 0
        self._stream_left = 0  # payload bytes still to come of the streamed frame being read

    def next_frame(self) -> Frame | StreamStart | StreamPart | NeedData | Closed:
        """The next frame, part of a streamed frame, ``NEED_DATA`` or ``CLOSED``."""
        available = len(self._data) - self._pos
        if self._stream_left:  # the hot path of bulk transfers: kept short
            if not available:
                return self._need_data_or_truncated()
            size = available if available < self._stream_left else self._stream_left
            self._stream_left -= size
            return StreamPart(self._stream_kind, self.take(size))
        if not available:
            return CLOSED if self.eof else NEED_DATA
        limit = self.limits.of(self.byte(0))
        if limit is None:
            kind = self.byte(0)
            if kind in self.limits.wrong_side:
                raise RemoteProtocolError(
                    ErrorCode.UNEXPECTED, f"message kind 0x{kind:02x} is never sent to this side"
                )
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"unknown message kind 0x{kind:02x}")
        if available < HEADER_SIZE:
            return self._need_data_or_truncated()
        kind, length = self.unpack(HEADER)
        if length > limit:
            raise RemoteProtocolError(
                ErrorCode.FRAME_TOO_LARGE, f"frame of kind 0x{kind:02x} and {length} bytes "
                f"exceeds {limit}"
            )
        if kind in self.streamed:
            self.skip(HEADER_SIZE)
            self._stream_kind, self._stream_left = kind, length
            return StreamStart(kind, length)
        if available < HEADER_SIZE + length:
            return self._need_data_or_truncated()
        self.skip(HEADER_SIZE)
        return Frame(kind, self.take_bytes(length))

    def _need_data_or_truncated(self) -> NeedData:
        if self.eof:
            raise RemoteProtocolError(
                ErrorCode.TRUNCATED, f"connection closed inside a frame ({self.buffered} bytes)"
            )
        return NEED_DATA


def encode_json(obj: dict[str, Any]) -> bytes:
    """Encode a control message's JSON payload (compact, UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RefusedJson(ValueError):
    """JSON that Python's parser takes but the protocol refuses."""


def _refuse_constant(name: str) -> Any:
    raise RefusedJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400: no number a peer can mean
        raise RefusedJson(f"number {text[:32]} is out of range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object: duplicate keys refused, ``null`` members dropped (null means absent)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RefusedJson(f"key {key[:64]!r} appears twice")
            seen.add(key)
    if None in obj.values():
        return {k: v for k, v in obj.items() if v is not None}
    return obj


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_constant=_refuse_constant, parse_float=_finite_float
)


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def decode_json(payload: bytes, *, limit: int = MAX_JSON_PAYLOAD) -> dict[str, Any]:
    """Decode a control payload: one JSON object, by the protocol's JSON rules.

    Anything but a JSON object, a duplicate key, ``NaN``/``Infinity`` or a
    number beyond a double's range raises ``BAD_MESSAGE``; bytes that are not
    UTF-8, or a string holding a lone surrogate (``"\\ud800"``), ``BAD_ENCODING``.
    A member whose value is ``null`` is dropped: ``null`` means absent.
    Members the caller does not read are ignored (the extension rule).
    """
    if len(payload) > limit:
        raise RemoteProtocolError(
            ErrorCode.FRAME_TOO_LARGE, f"control message of {len(payload)} bytes exceeds {limit}"
        )
    try:
        obj = _DECODER.decode(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise RemoteProtocolError(ErrorCode.BAD_ENCODING, "control message is not UTF-8") from None
    except RefusedJson as exc:
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"control message: {exc}") from None
    except (ValueError, RecursionError):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "control message is not JSON") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "control message is not a JSON object")
    # Only an escape can make a lone surrogate: UTF-8 itself cannot carry one.
    try:
        lone = b"\\u" in payload and _has_lone_surrogate(obj)
    except RecursionError:
        raise RemoteProtocolError(
            ErrorCode.BAD_MESSAGE, "control message nested too deep"
        ) from None
    if lone:
        raise RemoteProtocolError(
            ErrorCode.BAD_ENCODING, "control message holds a lone surrogate (not Unicode text)"
        )
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
