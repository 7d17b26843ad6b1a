"""The upload twin: a tutorial-style upload server that writes straight into the final file name.

**Its bug.** Each upload is written into ``ROOT/NAME`` itself as its bytes
arrive, with no hash check and no resume. When the connection breaks half
way (a reset, a cut, a killed client), the bytes received so far stay under
the file's final name: a partial file that looks like a stored one.

**The tutorial habit behind it.** The course's upload server does
``f = open(os.path.join(BASE_DIR, name), "wb")`` and writes every
``recv(1024)`` into it until ``size`` bytes have come.

**The invariant that catches it:** ``upload.complete-or-absent``
(:data:`BREAKS`). With the fault proxy's ``reset_peer`` or ``limit_data`` on an
upload, a file shorter than declared (and with another SHA-256) stays under
its name.

Everything else works, so that only this bug shows: netlab clients
(``\\0netlab/1 upload\\n`` then frames) get READY, STORED, LISTING and INFO;
the tutorial's own client (``NAME|SIZE`` then bytes) gets ``true``. Names
are one path component (the tutorial's path escape is not this twin's bug).
A PUT that asks to resume is refused with the ERROR :data:`NO_RESUME`, an
explicit answer netlab's client library does not retry; an existing name is
replaced, as the tutorial does.

Run it: ``python -m lab.twins.upload`` (``NETLAB_HOST``, ``NETLAB_PORT``,
``NETLAB_ROOT``: the directory it stores into, default ``./uploads``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socketserver
import sys
from pathlib import Path
from typing import Any

from lab.twins.frames import BadFrame, FrameSocket, json_object
from lab.twins.serving import TwinServer, address_from_env, serve_until_signalled

BREAKS = "upload.complete-or-absent"
NO_RESUME = "no-resume"
PUT, READY, DATA, END, STORED = 0x01, 0x02, 0x03, 0x04, 0x05
LIST, LISTING, STAT, INFO, ERROR = 0x06, 0x07, 0x08, 0x09, 0x0C
MAX_HEADER = 1024


def valid_name(name: str) -> bool:
    """One path component that is not hidden (netlab's names are stricter still)."""
    return bool(name) and "/" not in name and "\0" not in name and not name.startswith(".")


class UploadHandler(socketserver.BaseRequestHandler):
    """One client: netlab frames after a preface, else the tutorial's ``NAME|SIZE`` uploads."""

    server: UploadTwin

    def handle(self) -> None:
        first = self.request.recv(1024)
        if not first:
            return
        if first[0] == 0:
            frames = FrameSocket(self.request, first)
            try:
                if frames.expect_preface("upload"):
                    self.serve_netlab(frames)
            except BadFrame as exc:
                frames.send_json(ERROR, {"code": "bad-message", "message": str(exc),
                                         "fatal": True})
        else:
            self.serve_classic(first)

    def serve_netlab(self, frames: FrameSocket) -> None:
        while (frame := frames.read_frame()) is not None:
            kind, payload = frame
            if kind == PUT:
                if not self.put(frames, json_object(payload)):
                    return
            elif kind == LIST:
                frames.send_json(LISTING, {"files": [self.info(p, hashed=False)
                                                     for p in self.stored()]})
                frames.send(END)
            elif kind == STAT:
                name = str(json_object(payload).get("name", ""))
                path = self.server.root / name
                if valid_name(name) and path.is_file():
                    frames.send_json(INFO, self.info(path, hashed=True))
                else:
                    frames.send_json(ERROR, {"code": "not-found", "message": "no such file",
                                             "fatal": False})
            else:
                frames.send_json(ERROR, {"code": "unexpected-message",
                                         "message": f"the twin does not serve 0x{kind:02x}",
                                         "fatal": True})
                return

    def put(self, frames: FrameSocket, put: dict[str, Any]) -> bool:
        """One upload; False when the connection ended."""
        name, size, sha256 = str(put.get("name", "")), put.get("size"), put.get("sha256")
        if put.get("resume"):
            frames.send_json(ERROR, {"code": NO_RESUME,
                                     "message": "this server cannot resume an upload",
                                     "fatal": False})
            return True
        if not valid_name(name):
            frames.send_json(ERROR, {"code": "bad-name", "message": f"{name!r} is not a name",
                                     "fatal": False})
            return True
        frames.send_json(READY, {"offset": 0, "resume": secrets.token_hex(16)})
        received = 0
        with open(self.server.root / name, "wb") as file:  # THE BUG: the final name, at once
            while (header := frames.read_header()) is not None:
                kind, length = header
                if kind == END:
                    break
                if kind != DATA:
                    raise BadFrame(f"0x{kind:02x} during an upload")
                if not frames.stream_payload(length, file.write):
                    return False  # cut off: what came so far stays under the name
                received += length
            else:
                return False
        if received != size:
            frames.send_json(ERROR, {"code": "size-mismatch",
                                     "message": f"{received} bytes, not {size}", "fatal": False})
        else:
            frames.send_json(STORED, {"name": name, "size": size, "sha256": sha256})
        return True

    def stored(self) -> list[Path]:
        return sorted(p for p in self.server.root.iterdir() if p.is_file() and valid_name(p.name))

    @staticmethod
    def info(path: Path, *, hashed: bool) -> dict[str, Any]:
        stat = path.stat()
        info: dict[str, Any] = {"name": path.name, "size": stat.st_size, "mtime": stat.st_mtime}
        if hashed:
            info["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        return info

    def serve_classic(self, data: bytes) -> None:
        conn = self.request
        while data:
            name, bar, rest = data.partition(b"|")
            digits = rest[: len(rest) - len(rest.lstrip(b"0123456789"))]
            if not bar or not digits or not valid_name(name.decode("utf-8", "replace")):
                return
            size, body = int(digits), rest[len(digits):]
            with open(self.server.root / name.decode("utf-8", "replace"), "wb") as file:
                file.write(body)
                received = len(body)
                while received < size:
                    chunk = conn.recv(1024)
                    if not chunk:
                        return
                    file.write(chunk)
                    received += len(chunk)
            conn.sendall(b"true")
            data = conn.recv(MAX_HEADER)


class UploadTwin(TwinServer):
    """The upload twin's server, storing into ``root`` (created if missing)."""

    name = "upload twin"

    def __init__(self, address: tuple[str, int], *, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(address, UploadHandler)


def main() -> int:
    root = Path(os.environ.get("NETLAB_ROOT") or "uploads")
    return serve_until_signalled(UploadTwin(address_from_env(), root=root))


if __name__ == "__main__":
    sys.exit(main())
