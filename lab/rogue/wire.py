"""The bytes a rogue peer sends, and the error codes it reads back, sans-IO.

Every rogue speaks just enough of each service's netlab protocol to
misbehave inside it: the preface, one valid first request
(:func:`first_request`), a request that keeps the server busy
(:func:`busy_request`), a line or frame header beyond every limit
(:func:`oversized`) and seeded noise (:func:`garbage`). Everything is built
with the services' own codecs, so a rogue breaks exactly one rule at a time.

:class:`ErrorScanner` reads what the server sends back and picks out its
error codes: chat's ``! CODE: message`` lines, exec's and upload's ERROR
frames (other frames are skipped without being buffered).
"""

from __future__ import annotations

import json
import random
from typing import Literal

from services.chat.codec import encode_client_event
from services.chat.events import Say, Who
from services.remote_exec import codec as exec_codec
from services.remote_exec.events import Run
from services.upload import codec as upload_codec
from services.upload.events import Get, ListFiles, Put
from services.upload.protocol import DATA_FRAME_LIMIT
from services.wire.frames import HEADER, HEADER_SIZE, encode_frame
from services.wire.preface import encode_preface

Service = Literal["chat", "exec", "upload"]
SERVICES: tuple[Service, ...] = ("chat", "exec", "upload")
LONGEST_LINE = 65536  # chat's --max-line cannot be set higher
GARBAGE_BYTES = 4096
GARBAGE_LINE = 63
BUSY_COMMAND = "echo netlab-rogue; sleep 30"
FLOOD_COMMAND = "head -c 200000000 /dev/zero"
ERROR_KIND = {"exec": int(exec_codec.Kind.ERROR), "upload": int(upload_codec.Kind.ERROR)}
MAX_ERROR_PAYLOAD = 64 * 1024


def preface(service: Service) -> bytes:
    return encode_preface(service)


def run_frame(command: str, token: str, *, stdin: bool = False) -> bytes:
    event = Run(command, token, None, stdin)
    return encode_frame(exec_codec.Kind.RUN, exec_codec.encode_payload(event))


def stdin_frame(data: bytes) -> bytes:
    return encode_frame(exec_codec.Kind.STDIN, data)


def put_frame(name: str, size: int, sha256: str) -> bytes:
    event = Put(name, size, sha256, overwrite=True)
    return encode_frame(upload_codec.Kind.PUT, upload_codec.encode_payload(event))


def get_frame(name: str) -> bytes:
    return encode_frame(upload_codec.Kind.GET, upload_codec.encode_payload(Get(name, 0)))


def data_frames(data: bytes) -> bytes:
    """``data`` as upload DATA frames."""
    return b"".join(encode_frame(upload_codec.Kind.DATA, data[start : start + DATA_FRAME_LIMIT])
                    for start in range(0, len(data), DATA_FRAME_LIMIT))


def whole_frame(data: bytes) -> bool:
    """Whether ``data`` starts with a whole frame (header and payload)."""
    return len(data) >= HEADER_SIZE and len(data) >= HEADER_SIZE + HEADER.unpack(
        data[:HEADER_SIZE])[1]


def first_request(service: Service, token: str) -> bytes:
    """The preface and a short valid request the server answers at once."""
    if service == "chat":
        return preface(service) + encode_client_event(Who())
    if service == "exec":
        return preface(service) + run_frame("echo netlab-rogue", token)
    return preface(service) + encode_frame(upload_codec.Kind.LIST,
                                           upload_codec.encode_payload(ListFiles()))


def busy_request(service: Service, token: str) -> bytes:
    """The preface and a request still in progress when the rogue cuts in (chat: a message)."""
    if service == "chat":
        return preface(service) + encode_client_event(Say("netlab rogue was here"))
    if service == "exec":
        return preface(service) + run_frame(BUSY_COMMAND, token)
    # Upload: announcing a file is the start; its data is the rogue's to send or not.
    return preface(service)


def oversized(service: Service) -> bytes:
    """The preface, then a line or frame header beyond the service's every limit."""
    if service == "chat":
        return preface(service) + b"x" * (LONGEST_LINE + 1024) + b"\n"
    kind = exec_codec.Kind.RUN if service == "exec" else upload_codec.Kind.PUT
    return preface(service) + HEADER.pack(int(kind), 0x7FFFFFFF)


def garbage(service: Service, seed: int, index: int) -> bytes:
    """The preface, then seeded random bytes (the same for the same seed and index).

    For chat the noise is cut into short lines, so that the server meets many
    bad lines rather than one long one.
    """
    noise = random.Random(f"{seed}:{index}").randbytes(GARBAGE_BYTES)
    if service == "chat":
        noise = b"\n".join(noise[i : i + GARBAGE_LINE] for i in range(0, len(noise), GARBAGE_LINE))
    return preface(service) + noise


class ErrorScanner:
    """Feed it the server's bytes; it returns the error codes they carry, in order."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.buffer = bytearray()
        self.skip = 0  # payload bytes of a frame that is not an ERROR, still to come
        self.want: int | None = None  # payload length of the ERROR frame being read

    def feed(self, data: bytes) -> list[str]:
        if self.service == "chat":
            return self._lines(data)
        return self._frames(data)

    def _lines(self, data: bytes) -> list[str]:
        self.buffer += data
        *lines, rest = bytes(self.buffer).split(b"\n")
        self.buffer = bytearray(rest[-LONGEST_LINE:])
        return [line[2:].split(b":", 1)[0].decode("utf-8", "replace")
                for line in lines if line.startswith(b"! ") and b":" in line]

    def _frames(self, data: bytes) -> list[str]:
        codes = []
        pos = 0
        while pos < len(data):
            if self.skip:
                taken = min(self.skip, len(data) - pos)
                self.skip -= taken
                pos += taken
                continue
            need = (HEADER_SIZE if self.want is None else self.want) - len(self.buffer)
            self.buffer += data[pos : pos + need]
            pos += min(need, len(data) - pos)
            if self.want is None and len(self.buffer) == HEADER_SIZE:
                kind, length = HEADER.unpack(self.buffer)
                self.buffer.clear()
                if kind == ERROR_KIND[self.service] and length <= MAX_ERROR_PAYLOAD:
                    self.want = length
                else:
                    self.skip = length
            if self.want is not None and len(self.buffer) == self.want:
                codes.append(_error_code(bytes(self.buffer)))
                self.buffer.clear()
                self.want = None
        return codes


def _error_code(payload: bytes) -> str:
    try:
        code = json.loads(payload).get("code")
    except (ValueError, AttributeError):
        return "unreadable-error"
    return str(code) if code else "unreadable-error"
