"""Helpers of the exec tests: a server in-process, the tutorial's client, /proc scans."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

import trio

from services.remote_exec.config import ExecConfig
from services.remote_exec.events import Event, StdinEof
from services.remote_exec.protocol import ExecConnection, Role
from services.remote_exec.server import ExecServer
from services.wire.preface import encode_preface
from services.wire.sentinels import NEED_DATA

TOKEN = "s3cret-token"
LOGGER = logging.getLogger("netlab.exec.test")


async def start_server(nursery: trio.Nursery, **overrides: Any) -> tuple[ExecServer, int]:
    """An ExecServer on a free port, running until the nursery ends."""
    overrides.setdefault("token", TOKEN)
    server = ExecServer(ExecConfig(port=0, **overrides), logger=LOGGER)
    port: int = await nursery.start(server.run)
    return server, port


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process whose process group or session is ``pgid``, zombies too."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if pgid in (pgrp, session):
            members.append((int(entry), state))
    return members


def pids_running(marker: str) -> list[int]:
    """Pids whose command line contains ``marker`` (to find a classic command's group)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(int(entry))
    return found


def pgid_of(pid: int) -> int:
    return os.getpgid(pid)


def tutorial_exec_client(port: int, commands: Sequence[bytes]) -> list[bytes]:
    """The tutorial's exec client, blocking stdlib socket (run it in a thread).

    Per command: one ``send`` of the command, one ``recv`` of the digits,
    ``send(b"ok")``, then ``recv`` until that many bytes have come.
    """
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for command in commands:
            sock.send(command)
            size = int(sock.recv(1024).decode())
            sock.send(b"ok")
            data = b""
            while len(data) < size:
                chunk = sock.recv(1024)
                if not chunk:
                    raise ConnectionError("server closed mid-answer")
                data += chunk
            answers.append(data)
    return answers


class RawClient:
    """A bare netlab-mode client for tests that need to misbehave or look at every frame."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.proto = ExecConnection(Role.CLIENT)

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(encode_preface("exec"))
        return cls(stream)

    async def send(self, event: Event) -> None:
        await self.stream.send_all(self.proto.send(event))

    async def send_eof_frame(self) -> None:
        await self.send(StdinEof())

    async def next(self, timeout: float = 5.0) -> object:
        """The next event, or CLOSED."""
        with trio.fail_after(timeout):
            while (event := self.proto.next_event()) is NEED_DATA:
                self.proto.receive_data(await self.stream.receive_some(65536))
        return event

    async def aclose(self) -> None:
        await self.stream.aclose()
