"""The tutorial's programs' exchanges, written from docs/reference/protocol/classic.md alone.

Classic mode has no framing: each function does what the tutorial's
blocking client does (one ``send``, one ``recv``), and every wait is bounded
by the socket's timeout.
"""

from __future__ import annotations

import socket

TIMEOUT = 10.0


def connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def exec_command(sock: socket.socket, command: bytes) -> bytes:
    """Send the command, read its length in digits, ack ``ok``, read the result."""
    sock.sendall(command)
    digits = sock.recv(1024)
    if not digits.isdigit():
        raise AssertionError(f"a length that is not ASCII digits: {digits!r}")
    sock.sendall(b"ok")
    return read_exact(sock, int(digits))


def upload_file(sock: socket.socket, name: bytes, data: bytes) -> bytes:
    """``NAME|SIZE``, then the bytes; the reply (``true``, ``false``).

    The reference: SIZE ends at the first non-digit byte or at the end of a
    receive, so data that starts with a digit must not arrive glued to the
    header. Callers here send data that starts with a letter.
    """
    if data[:1].isdigit():
        raise ValueError("data starting with a digit may be read as part of SIZE")
    sock.sendall(name + b"|" + str(len(data)).encode("ascii"))
    sock.sendall(data)
    return sock.recv(1024)


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
