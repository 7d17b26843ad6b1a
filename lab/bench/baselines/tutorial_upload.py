"""The tutorial's upload server, netlab's classic and netlab modes are measured against.

``python -m lab.bench.baselines.tutorial_upload --port 9000 [--read-size 262144] [--root DIR]``

Written the way the tutorial writes it: blocking sockets, a thread per
client, the header ``NAME|SIZE`` from one ``recv(1024)``, then ``recv`` in a
loop (``--read-size`` bytes at a time: 1024 as in the tutorial, or 256 KiB
for the faster variant) written straight into ``ROOT/NAME`` until SIZE bytes
have come, then ``true``; the next header may follow on the same
connection. No hash, no fsync, no staging file, no limits.

One liberty, so that the bench's client can send as it likes: the bytes
after the header's digits in the header's ``recv`` are the file's first
bytes (the tutorial assumes the header arrives alone; the bench's data never
starts with a digit, so the split is exact).

Storage: ``--root`` (default ``/tmp/tutorial-uploads``): in the bench's
baseline container that is the container's own ``/tmp``, on its writable
layer, which Docker keeps on the same disk as the volume netlab's upload
server stores into (``/data/uploads``, volume ``uploads``): both write
through the page cache to the same file system. A file of a name already
stored is replaced (truncated), as the tutorial does.

Resource handling: each client's socket and file are closed when its thread
ends (threads are daemons; the process ends on SIGTERM). Error handling: a
malformed header or a client gone mid-file ends that client only, with one
line on stderr; the partial file stays, as it does in the tutorial.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

HEADER_RECV = 1024  # the tutorial's header read
TUTORIAL_READ = 1024  # the tutorial's data read
DEFAULT_ROOT = Path("/tmp/tutorial-uploads")


def split_header(first: bytes) -> tuple[str, int, bytes]:
    """``NAME|SIZE`` and whatever followed the digits in the same ``recv``."""
    name, bar, rest = first.partition(b"|")
    digits = rest[: len(rest) - len(rest.lstrip(b"0123456789"))]
    if not bar or not digits:
        raise ValueError(f"not a NAME|SIZE header: {first[:40]!r}")
    return os.path.basename(name.decode("utf-8")), int(digits), rest[len(digits):]


def receive_file(conn: socket.socket, path: Path, size: int, first: bytes,
                 read_size: int) -> bool:
    """Write ``first`` and then ``recv``'d bytes to ``path`` until ``size``; False if cut."""
    with open(path, "wb") as file:
        file.write(first)
        received = len(first)
        while received < size:
            chunk = conn.recv(min(read_size, size - received))
            if not chunk:
                return False
            file.write(chunk)
            received += len(chunk)
    return True


def handle(conn: socket.socket, root: Path, read_size: int) -> None:
    """One client: files one after another until it closes."""
    with conn:
        try:
            while first := conn.recv(HEADER_RECV):
                name, size, rest = split_header(first)
                if not receive_file(conn, root / name, size, rest, read_size):
                    return
                conn.sendall(b"true")
        except (OSError, ValueError) as exc:
            print(f"tutorial_upload: client dropped: {exc}", file=sys.stderr, flush=True)


def serve(listener: socket.socket, root: Path, read_size: int) -> None:
    """Accept until the listener is shut down, a thread per client."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:  # shut down (a test's teardown; in the bench, SIGTERM ends us)
            return
        threading.Thread(target=handle, args=(conn, root, read_size), daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--read-size", type=int, default=TUTORIAL_READ,
                        help="bytes per recv of a file's data (the tutorial: 1024)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    with socket.create_server((args.host, args.port), backlog=128) as listener:
        print(f"tutorial_upload: listening on {args.host}:{args.port}, "
              f"read size {args.read_size}, storing in {args.root}", file=sys.stderr, flush=True)
        serve(listener, args.root, args.read_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
