"""The exec clients ``lab bench-load exec`` times: netlab's library, and two blocking ones.

Each client's ``connect()`` opens one connection for a ``with`` block (the
library's: ``async with``); the connection's ``run(command, keep=...)``
returns a :class:`Ran` once the command's end has arrived, keeping the
output or only counting it.

* :class:`LibraryClient` — netlab's async client library
  (:mod:`services.remote_exec.client`): what a netlab user's program pays.
* :class:`BlockingFramedClient` — the least a framed client can do: one
  blocking socket, the RUN frame, frames read until EXIT. It shows the
  server's share when the library's own cost is in question.
* :class:`ClassicClient` — the tutorial's client: ``send`` the command,
  read the length, ``send(b"ok")``, read the result. Nagle stays on, as in
  the tutorial; the result is read in large pieces, so the client is never
  what bounds a streaming figure.

Resource handling: every connection's block closes its socket. Error
handling: anything but a normal end (an ERROR frame, a closed connection,
an answer that is not a number) raises :class:`LoadError`; every socket
operation has a timeout.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from services.remote_exec.client import ExecClient, ExecError, open_exec

PREFACE = b"\x00netlab/1 exec\n"
HEADER = struct.Struct(">BI")
RUN, STDOUT, EXIT, ERROR = 0x01, 0x12, 0x14, 0x15
RECV_SIZE = 256 * 1024
TUTORIAL_RECV = 1024  # the tutorial's recv size, for the length
TIMEOUT = 30.0


class LoadError(Exception):
    """A run did not end as it should (the message says how)."""


@dataclass(frozen=True)
class Ran:
    """How a command ended: its status (None in classic mode) and its stdout."""

    status: int | None
    stdout: bytes  # empty unless kept
    stdout_bytes: int


def _recv_exact(sock: socket.socket, size: int, keep: bool = True) -> bytes:
    chunks = bytearray()
    left = size
    while left:
        data = sock.recv(min(RECV_SIZE, left))
        if not data:
            raise LoadError(f"the server closed the connection {left} bytes early")
        left -= len(data)
        if keep:
            chunks += data
    return bytes(chunks)


def _open_socket(host: str, port: int, timeout: float, *, nodelay: bool) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class BlockingFramedConnection:
    """One framed connection on a blocking socket (after the preface)."""

    def __init__(self, sock: socket.socket, token: str) -> None:
        self.sock = sock
        self.token = token

    def run(self, command: str, *, keep: bool = True) -> Ran:
        payload = json.dumps({"command": command, "token": self.token}).encode()
        self.sock.sendall(HEADER.pack(RUN, len(payload)) + payload)
        kept = bytearray()
        while True:
            kind, length = HEADER.unpack(_recv_exact(self.sock, HEADER.size))
            body = _recv_exact(self.sock, length, keep=keep or kind != STDOUT)
            if kind == STDOUT:
                kept += body
            elif kind == EXIT:
                end: dict[str, Any] = json.loads(body)
                return Ran(end["status"], bytes(kept), int(end["stdout_bytes"]))
            elif kind == ERROR:
                raise LoadError(f"ERROR {body.decode(errors='replace')}")


@dataclass(frozen=True)
class BlockingFramedClient:
    host: str
    port: int
    token: str
    timeout: float = TIMEOUT

    @contextmanager
    def connect(self) -> Iterator[BlockingFramedConnection]:
        with _open_socket(self.host, self.port, self.timeout, nodelay=True) as sock:
            sock.sendall(PREFACE)
            yield BlockingFramedConnection(sock, self.token)


class ClassicConnection:
    """The tutorial's exchange on one blocking socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def run(self, command: str, *, keep: bool = True) -> Ran:
        self.sock.send(command.encode())
        answer = self.sock.recv(TUTORIAL_RECV)
        try:
            size = int(answer.decode("ascii"))
        except ValueError:
            raise LoadError(f"the length is not a number: {answer[:80]!r}") from None
        self.sock.send(b"ok")
        return Ran(None, _recv_exact(self.sock, size, keep=keep), size)


@dataclass(frozen=True)
class ClassicClient:
    host: str
    port: int
    timeout: float = TIMEOUT

    @contextmanager
    def connect(self) -> Iterator[ClassicConnection]:
        with _open_socket(self.host, self.port, self.timeout, nodelay=False) as sock:
            yield ClassicConnection(sock)


class LibraryConnection:
    """A connection of netlab's client library."""

    def __init__(self, client: ExecClient) -> None:
        self.client = client

    async def run(self, command: str, *, keep: bool = True) -> Ran:
        try:
            result = await self.client.run(command, capture=keep)
        except ExecError as exc:
            raise LoadError(f"{type(exc).__name__}: {exc}") from None
        return Ran(result.status, result.stdout, result.stdout_bytes)


@dataclass(frozen=True)
class LibraryClient:
    host: str
    port: int
    token: str
    timeout: float = TIMEOUT

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[LibraryConnection]:
        try:
            async with open_exec(self.host, self.port, token=self.token,
                                 connect_timeout=self.timeout,
                                 response_timeout=self.timeout) as client:
                yield LibraryConnection(client)
        except ExecError as exc:
            raise LoadError(f"{type(exc).__name__}: {exc}") from None


SyncClient = BlockingFramedClient | ClassicClient
