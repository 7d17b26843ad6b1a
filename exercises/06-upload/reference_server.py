"""An upload server for the tutorial's protocol that stores whole files or nothing.

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000).
Files land in the directory it runs in. Ctrl-C stops it.

The protocol: `NAME|SIZE`, then SIZE bytes, answered `true` (stored) or
`false` (refused); several files may follow on one connection. What it does
where the tutorial's server does not:

* It reads the stream, not messages. NAME runs to the first `|`; SIZE is the
  run of digits after it, ended by the first non-digit byte or by the end of
  a recv() (the tutorial's client sends its header with a send of its own,
  and TCP usually delivers it alone). Bytes after the digits in the same
  recv() are the file's first bytes, not garbage. Nothing in the format says
  where SIZE ends when a file that starts with a digit arrives glued to its
  header: that case cannot be read right by anyone (netlab's own protocol
  declares the size in a frame of its own).
* NAME must be a plain file name: no `/`, not `.` or `..`, no NUL, not
  hidden. Anything else is refused with `false` (its bytes are read and
  dropped, so that the connection can go on).
* A file is written under a temporary name and renamed to NAME only once all
  SIZE bytes are on disk (os.replace is atomic): a reader sees the old file
  or the new one, never half of one. A client that leaves half way leaves
  nothing behind; the temporary file is removed.
* Each client has a thread of its own, so one slow uploader holds up no one.
"""

import contextlib
import os
import socket
import sys
import tempfile
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
MAX_HEADER = 1024
MAX_DIGITS = 20
DIGITS = b"0123456789"


class Refused(Exception):
    pass


class Stream:
    """A connection read as a stream: whatever recv() returns goes into a buffer."""

    def __init__(self, conn):
        self.conn = conn
        self.buffer = b""

    def fill(self):
        """One more recv() into the buffer; False when the client has closed."""
        data = self.conn.recv(65536)
        self.buffer += data
        return bool(data)

    def header(self):
        """(name, size) of the next file; None when the client closed between files."""
        while b"|" not in self.buffer:
            if len(self.buffer) >= MAX_HEADER:
                raise Refused("no '|' in the header")
            if not self.fill():
                if self.buffer:
                    raise Refused("the client closed in the middle of a header")
                return None
        name, _, rest = self.buffer.partition(b"|")
        # SIZE: the digits after '|', up to the first non-digit or the end of this recv().
        while not rest:
            if not self.fill():
                raise Refused("the client closed in the middle of a header")
            name, _, rest = self.buffer.partition(b"|")
        end = 0
        while end < min(len(rest), MAX_DIGITS) and rest[end] in DIGITS:
            end += 1
        if end == 0:
            raise Refused(f"SIZE is not a number: {rest[:20]!r}")
        self.buffer = rest[end:]  # the file's first bytes, if they came with the header
        return name.decode("utf-8", errors="replace"), int(rest[:end])

    def body(self, size):
        """The next ``size`` bytes, piece by piece, as they arrive."""
        left = size
        while left:
            if not self.buffer and not self.fill():
                raise ConnectionError(f"the client closed with {left} of {size} bytes to come")
            piece, self.buffer = self.buffer[:left], self.buffer[left:]
            left -= len(piece)
            yield piece


def valid_name(name):
    return (name == os.path.basename(name) and name not in ("", ".", "..")
            and "\0" not in name and not name.startswith("."))


def store(stream, name, size):
    """Write the file under a temporary name, then rename it: whole, or not at all."""
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=".")
    try:
        with os.fdopen(fd, "wb") as file:
            for piece in stream.body(size):
                file.write(piece)
            file.flush()
            os.fsync(file.fileno())  # on disk before it has its name
        os.replace(temporary, name)
    except BaseException:
        os.unlink(temporary)
        raise


def serve_client(conn, address):
    who = f"{address[0]}:{address[1]}"
    stream = Stream(conn)
    with conn:
        while True:
            try:
                header = stream.header()
            except Refused as error:
                print(f"{who}: {error}; closing", flush=True)
                return
            if header is None:
                return
            name, size = header
            if valid_name(name):
                store(stream, name, size)
                print(f"{who}: stored {name} ({size} bytes)", flush=True)
                conn.sendall(b"true")
            else:
                for _ in stream.body(size):
                    pass
                print(f"{who}: refused the name {name!r}", flush=True)
                conn.sendall(b"false")


def serve_and_log(conn, address):
    try:
        serve_client(conn, address)
    except OSError as error:  # a reset or a close half way: the client is gone
        print(f"{address[0]}:{address[1]}: {error}", flush=True)


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen()
    print(f"upload server on {HOST}:{PORT}, storing in {os.getcwd()}", flush=True)
    with server:
        while True:
            conn, address = server.accept()
            threading.Thread(target=serve_and_log, args=(conn, address), daemon=True).start()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
