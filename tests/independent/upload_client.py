"""An upload client written from docs/reference/protocol/upload.md (and the overview) alone.

Kinds, fields, states and answers are the reference's; every message the
server sends is checked against them (:class:`~tests.independent.wire.Violation`
when it breaks one). Blocking sockets, as a user's own client would be.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from tests.independent.wire import (
    MAX_CONTROL,
    MAX_DATA,
    Closed,
    Peer,
    ServerError,
    Violation,
    decode_json,
    encode_json,
    error_from,
    preface,
)
from tests.independent.wire import field as get

PUT, READY, DATA, END, STORED = 0x01, 0x02, 0x03, 0x04, 0x05
LIST, LISTING, STAT, INFO, GET, META, ERROR = 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C
SERVER_KINDS = {READY: MAX_CONTROL, DATA: MAX_DATA, END: MAX_CONTROL, STORED: MAX_CONTROL,
                LISTING: MAX_CONTROL, INFO: MAX_CONTROL, META: MAX_CONTROL, ERROR: MAX_CONTROL}
# What the server may send in each state (the reference's state table).
ALLOWED = {
    "IDLE": {ERROR},
    "PUT_SENT": {READY, ERROR},
    "UPLOADING": {ERROR},
    "UPLOAD_ENDED": {STORED, ERROR},
    "LIST_SENT": {LISTING, END, ERROR},
    "STAT_SENT": {INFO, ERROR},
    "GET_SENT": {META, ERROR},
    "DOWNLOADING": {DATA, END, ERROR},
}
ANSWERING = {"PUT_SENT", "UPLOAD_ENDED", "LIST_SENT", "STAT_SENT", "GET_SENT"}
SHA256 = re.compile(r"[0-9a-f]{64}")
TOKEN = re.compile(r"[0-9a-f]{32}")
CHUNK = 64 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _name_and_size(obj: dict[str, Any]) -> None:
    get(obj, "name", "string")
    get(obj, "size", "integer")


def _digest(obj: dict[str, Any]) -> None:
    if not SHA256.fullmatch(get(obj, "sha256", "string")):
        raise Violation(f"a server's sha256 that is not 64 lower-case hex digits: {obj}")


@dataclass
class Download:
    meta: dict[str, Any]
    data: bytes


class UploadClient:
    """One connection in netlab mode; ``state`` follows the reference's table."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0,
                 send_preface: bool = True) -> None:
        self.peer = Peer(host, port, timeout=timeout)
        self.state = "IDLE"
        self.listings = 0  # LISTING messages of the last list()
        if send_preface:
            self.peer.send(preface("upload"))

    def close(self) -> None:
        self.peer.close()

    def __enter__(self) -> UploadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames -------------------------------------------------------------------
    def request(self, kind: int, obj: dict[str, Any], state: str) -> None:
        self.peer.send_json(kind, obj)
        self.state = state

    def receive(self) -> tuple[int, Any]:
        """The next message, checked against the state; an ERROR raises :class:`ServerError`."""
        kind, payload = self.peer.read_frame(SERVER_KINDS)
        if kind not in ALLOWED[self.state]:
            raise Violation(f"kind 0x{kind:02x} in state {self.state}")
        if kind == DATA:
            return kind, payload
        if kind == END:
            if payload:
                raise Violation("a server's END is always empty")
            self.state = "IDLE"
            return kind, None
        obj = decode_json(payload)
        if kind == ERROR:
            error = error_from(obj, answering=self.state in ANSWERING)
            self.state = "CLOSED" if error.fatal else "IDLE"
            raise error
        self._check(kind, obj)
        return kind, obj

    def _check(self, kind: int, obj: dict[str, Any]) -> None:
        if kind == READY:
            get(obj, "offset", "integer")
            resume = get(obj, "resume", "string", required=False, default="")
            if not TOKEN.fullmatch(resume):
                raise Violation(f"READY without a 32-hex-digit resume token: {obj}")
            self.state = "UPLOADING"
        elif kind in (STORED, INFO, META):
            _name_and_size(obj)
            _digest(obj)
            if kind == INFO:
                get(obj, "mtime", "number")
            if kind == META:
                get(obj, "offset", "integer")
                self.state = "DOWNLOADING"
            else:
                self.state = "IDLE"
        elif kind == LISTING:
            for entry in get(obj, "files", "array"):
                if not isinstance(entry, dict):
                    raise Violation(f"a LISTING entry that is not an object: {entry!r}")
                _name_and_size(entry)
                get(entry, "mtime", "number")

    def expect_error(self) -> ServerError:
        try:
            kind, message = self.receive()
        except ServerError as error:
            return error
        raise AssertionError(f"expected an ERROR, got kind 0x{kind:02x} {message!r}")

    def closed(self) -> bool:
        try:
            return self.peer.at_eof()
        except Closed:
            return True

    # -- requests -----------------------------------------------------------------
    def start_put(self, name: str, size: int, *, digest: str | None = None,
                  overwrite: bool = False, resume: str = "", **extra: Any) -> dict[str, Any]:
        """PUT; the READY (an ERROR raises)."""
        put: dict[str, Any] = {"name": name, "size": size, **extra}
        if digest is not None:
            put["sha256"] = digest
        if overwrite:
            put["overwrite"] = True
        if resume:
            put["resume"] = resume
        self.request(PUT, put, "PUT_SENT")
        _kind, ready = self.receive()
        return ready  # type: ignore[no-any-return]

    def send_data(self, data: bytes) -> None:
        for start in range(0, len(data), CHUNK):
            self.peer.send_frame(DATA, data[start:start + CHUNK])

    def end(self, digest: str | None = None) -> dict[str, Any]:
        """END (with the digest when the PUT declared none); the STORED."""
        self.peer.send_frame(END, encode_json({"sha256": digest}) if digest else b"")
        self.state = "UPLOAD_ENDED"
        _kind, stored = self.receive()
        return stored  # type: ignore[no-any-return]

    def put(self, name: str, data: bytes, *, digest_at_end: bool = False,
            overwrite: bool = False) -> dict[str, Any]:
        """Upload ``data`` whole: PUT, DATA from READY's offset, END; the STORED."""
        digest = sha256(data)
        ready = self.start_put(name, len(data), digest=None if digest_at_end else digest,
                               overwrite=overwrite)
        self.send_data(data[ready["offset"]:])
        stored = self.end(digest if digest_at_end else None)
        if (stored["size"], stored["sha256"]) != (len(data), digest):
            raise Violation(f"STORED {stored} is not what was uploaded")
        return stored

    def list(self) -> list[dict[str, Any]]:
        """LIST; every LISTING's files joined, in order, until END."""
        self.request(LIST, {}, "LIST_SENT")
        files: list[dict[str, Any]] = []
        self.listings = 0
        while True:
            kind, message = self.receive()
            if kind == END:
                return files
            self.listings += 1
            files += message["files"]

    def stat(self, name: str) -> dict[str, Any]:
        self.request(STAT, {"name": name}, "STAT_SENT")
        _kind, info = self.receive()
        return info  # type: ignore[no-any-return]

    def get(self, name: str, offset: int = 0) -> Download:
        """GET; META, the DATA until END (exactly size - offset bytes)."""
        self.request(GET, {"name": name, "offset": offset}, "GET_SENT")
        kind, meta = self.receive()
        if meta["offset"] != offset:
            raise Violation(f"META offset {meta['offset']} for a GET from {offset}")
        data = bytearray()
        while True:
            kind, chunk = self.receive()
            if kind == END:
                break
            data += chunk
        if len(data) != meta["size"] - offset:
            raise Violation(f"{len(data)} bytes after META, not size - offset")
        return Download(meta, bytes(data))
