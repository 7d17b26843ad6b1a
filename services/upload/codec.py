"""Upload messages ↔ frames: the kind byte of each message and its JSON fields.

Every message is one frame of :mod:`services.wire.frames` (kind byte, u32
length, payload). Control messages carry a JSON object; DATA carries raw file
bytes; END carries nothing, or ``{"sha256"}`` when it ends an upload whose
PUT declared no digest. This module checks each field's JSON type and
range; *meaning* (is the name allowed, does the file exist) is the server's
business, so a bad name gets a ``bad-name`` answer rather than a dropped
connection: a request's ``name`` may be any string the frame holds, however
long.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from services.upload.events import (
    Data,
    End,
    Error,
    Event,
    FileInfo,
    Get,
    Info,
    ListFiles,
    Listing,
    Meta,
    Put,
    Ready,
    Stat,
    Stored,
)
from services.wire.errors import ErrorCode, RemoteProtocolError
from services.wire.frames import decode_json, encode_json, require

MAX_SIZE = (1 << 63) - 1
MAX_TEXT = 4096  # names the server sends, error messages
MAX_CODE = 64  # error codes
SHA256_RE = re.compile(r"[0-9a-f]{64}")
RESUME_RE = re.compile(r"[0-9a-f]{32}")


class Kind(enum.IntEnum):
    """The kind byte of each upload message."""

    PUT = 0x01
    READY = 0x02
    DATA = 0x03
    END = 0x04
    STORED = 0x05
    LIST = 0x06
    LISTING = 0x07
    STAT = 0x08
    INFO = 0x09
    GET = 0x0A
    META = 0x0B
    ERROR = 0x0C


KIND_OF: dict[type, Kind] = {
    Put: Kind.PUT,
    Ready: Kind.READY,
    Data: Kind.DATA,
    End: Kind.END,
    Stored: Kind.STORED,
    ListFiles: Kind.LIST,
    Listing: Kind.LISTING,
    Stat: Kind.STAT,
    Info: Kind.INFO,
    Get: Kind.GET,
    Meta: Kind.META,
    Error: Kind.ERROR,
}

CONTROL_KINDS = frozenset(Kind) - {Kind.DATA, Kind.END}


def _info_json(info: FileInfo) -> dict[str, Any]:
    obj: dict[str, Any] = {"name": info.name, "size": info.size, "mtime": info.mtime}
    if info.sha256:
        obj["sha256"] = info.sha256
    return obj


def encode_payload(event: Event) -> bytes:
    """The payload of ``event``'s frame (its kind is ``KIND_OF[type(event)]``)."""
    match event:
        case Data(data):
            return data if isinstance(data, bytes) else bytes(data)
        case End(sha256):
            return encode_json({"sha256": sha256}) if sha256 else b""
        case ListFiles():
            return b"{}"
        case Put(name, size, sha256, overwrite, resume):
            obj: dict[str, Any] = {"name": name, "size": size}
            if sha256:  # else declared at END
                obj["sha256"] = sha256
            if overwrite:
                obj["overwrite"] = True
            if resume:
                obj["resume"] = resume
            return encode_json(obj)
        case Ready(offset, resume):
            return encode_json({"offset": offset, "resume": resume} if resume
                               else {"offset": offset})
        case Stored(name, size, sha256):
            return encode_json({"name": name, "size": size, "sha256": sha256})
        case Listing(files):
            return encode_json({"files": [_info_json(f) for f in files]})
        case Stat(name):
            return encode_json({"name": name})
        case Info(file):
            return encode_json(_info_json(file))
        case Get(name, offset):
            return encode_json({"name": name, "offset": offset})
        case Meta(name, size, sha256, offset):
            return encode_json({"name": name, "size": size, "sha256": sha256, "offset": offset})
        case Error(code, message, fatal):
            return encode_json({"code": code, "message": message[:MAX_TEXT], "fatal": fatal})
    raise TypeError(f"not an upload event: {event!r}")


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(ErrorCode.BAD_MESSAGE, message)


def _size(obj: dict[str, Any], key: str, default: int | None = None) -> int:
    if default is not None and key not in obj:
        return default
    value: int = require(obj, key, int)
    if not 0 <= value <= MAX_SIZE:
        raise _bad(f"field {key!r} out of range")
    return value


def _text(obj: dict[str, Any], key: str, *, limit: int | None = MAX_TEXT) -> str:
    value: str = require(obj, key, str)
    if limit is not None and len(value) > limit:
        raise _bad(f"field {key!r} longer than {limit} characters")
    return value


def _sha256(obj: dict[str, Any], key: str = "sha256") -> str:
    value = _text(obj, key).lower()
    if not SHA256_RE.fullmatch(value):
        raise _bad(f"field {key!r} is not 64 hexadecimal digits")
    return value


def _resume(obj: dict[str, Any]) -> str:
    if "resume" not in obj:
        return ""
    value = _text(obj, "resume", limit=64)
    if not RESUME_RE.fullmatch(value):
        raise _bad("field 'resume' is not 32 lower-case hexadecimal digits")
    return value


def _file_info(obj: Any, *, with_hash: bool) -> FileInfo:
    if not isinstance(obj, dict):
        raise _bad("file entry is not an object")
    try:
        mtime = float(require(obj, "mtime", (int, float)))
    except OverflowError:  # an integer too large for a float
        raise _bad("field 'mtime' out of range") from None
    sha = _sha256(obj) if with_hash else ""
    return FileInfo(_text(obj, "name"), _size(obj, "size"), mtime, sha)


def _request_name(obj: dict[str, Any]) -> str:
    """The ``name`` of PUT, STAT or GET: any length here; the server's name rules judge it."""
    return _text(obj, "name", limit=None)


def _end(payload: bytes) -> End:
    """END: empty, or an object whose ``sha256`` is a digest or absent (the same as empty)."""
    if not payload:
        return End()
    obj = decode_json(payload)
    return End(_sha256(obj)) if "sha256" in obj else End()


def _error(obj: dict[str, Any], fatal_default: bool) -> Error:
    code = _text(obj, "code", limit=MAX_CODE)
    if not code:
        raise _bad("field 'code' is empty")
    message = _text(obj, "message") if "message" in obj else ""
    fatal = obj.get("fatal", fatal_default)  # absent or null: a server older than the field
    if not isinstance(fatal, bool):
        raise _bad("field 'fatal' is not a boolean")
    return Error(code, message, fatal)


def decode_payload(kind: int, payload: bytes, *, fatal_default: bool = False) -> Event:
    """Decode one whole frame's payload (DATA too, for tests and small frames).

    ``fatal_default``: what an ERROR without ``fatal`` (from a server older
    than the field) means; the connection passes its state's answer.
    """
    if kind == Kind.DATA:
        return Data(payload)
    if kind == Kind.END:
        return _end(payload)
    if kind not in CONTROL_KINDS:
        raise _bad(f"unknown message kind 0x{kind:02x}")
    obj = decode_json(payload)
    match kind:
        case Kind.PUT:
            overwrite = obj.get("overwrite", False)
            if not isinstance(overwrite, bool):
                raise _bad("field 'overwrite' is not a boolean")
            sha256 = _sha256(obj) if "sha256" in obj else ""
            return Put(_request_name(obj), _size(obj, "size"), sha256, overwrite, _resume(obj))
        case Kind.READY:
            return Ready(_size(obj, "offset"), _resume(obj))
        case Kind.STORED:
            return Stored(_text(obj, "name"), _size(obj, "size"), _sha256(obj))
        case Kind.LIST:
            return ListFiles()
        case Kind.LISTING:
            files = obj.get("files")
            if not isinstance(files, list):
                raise _bad("field 'files' missing or not a list")
            return Listing(tuple(_file_info(f, with_hash=False) for f in files))
        case Kind.STAT:
            return Stat(_request_name(obj))
        case Kind.INFO:
            return Info(_file_info(obj, with_hash=True))
        case Kind.GET:
            return Get(_request_name(obj), _size(obj, "offset", default=0))
        case Kind.META:
            return Meta(_text(obj, "name"), _size(obj, "size"), _sha256(obj), _size(obj, "offset"))
        case _:  # Kind.ERROR
            return _error(obj, fatal_default)
