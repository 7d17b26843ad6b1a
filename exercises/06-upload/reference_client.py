"""An upload client for the tutorial's protocol that reads the whole reply.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type the path of a file to upload it; `exit`, or the end of the input (Ctrl-D), to leave.

For each file: `NAME|SIZE` with a send of its own, then the bytes in
1024-byte pieces, then the reply. Nothing marks the end of the header: the
server can only hope it arrives alone. A piece smaller than a TCP segment
waits (Nagle's algorithm) until the header has been acknowledged, so the
header usually does arrive alone; usually is all this format allows, and a
file that starts with a digit, arriving glued to its header, is misread by
any server (netlab's own protocol declares the size in a frame of its own).
The reply is `true` or `false` and nothing ends it either, but the client
knows both words: it reads until what it has is one of them, or can no
longer become one, or the server closes. It prints `NAME: stored` or `NAME: refused (...)`.
"""

import os
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
REPLIES = (b"true", b"false")
CHUNK = 1024  # smaller than a segment: see above


def read_reply(conn):
    """``true``, ``false``, or what came before the bytes stopped making sense (or the close)."""
    reply = b""
    while reply not in REPLIES and any(word.startswith(reply) for word in REPLIES):
        data = conn.recv(5 - len(reply))
        if not data:
            break
        reply += data
    return reply


def upload(conn, path, size):
    name = os.path.basename(path)
    conn.sendall(f"{name}|{size}".encode("utf-8"))
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            conn.sendall(chunk)
    reply = read_reply(conn)
    print(f"{name}: stored" if reply == b"true" else f"{name}: refused ({reply!r})", flush=True)
    return bool(reply)


def main():
    with socket.create_connection((HOST, PORT)) as conn:
        while True:
            try:
                path = input("file to upload: ").strip()
            except EOFError:
                break
            if not path:
                continue
            if path == "exit":
                break
            try:
                size = os.stat(path).st_size
            except OSError as error:  # nothing sent: the connection goes on
                print(f"{path}: {error.strerror}", file=sys.stderr)
                continue
            try:
                if not upload(conn, path, size):
                    print("the server closed the connection", file=sys.stderr)
                    return 1
            except OSError as error:
                print(f"{path}: {error}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
