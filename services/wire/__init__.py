"""Sans-IO wire layer shared by the chat, exec and upload protocols.

Nothing here does I/O or imports Trio: bytes go in, events come out, and
``send(event)`` returns bytes. See ``docs/reference/protocol/`` for the byte layouts.
"""

from services.wire.errors import (
    ErrorCode,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
)
from services.wire.frames import FrameBuffer, FrameLimits, encode_frame
from services.wire.lines import LineDecoder
from services.wire.preface import PREFACE_PREFIX, Sniff, encode_preface, sniff
from services.wire.protocol import Connection, Role
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

__all__ = [
    "CLOSED",
    "NEED_DATA",
    "PREFACE_PREFIX",
    "Closed",
    "Connection",
    "ErrorCode",
    "FrameBuffer",
    "FrameLimits",
    "LineDecoder",
    "LocalProtocolError",
    "NeedData",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "Sniff",
    "encode_frame",
    "encode_preface",
    "sniff",
]
