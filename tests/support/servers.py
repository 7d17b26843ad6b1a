"""Each service's server started in-process on a free loopback port, as a typed handle.

``await start_chat(nursery, **config)`` (and ``start_exec``, ``start_upload``)
builds the service's config from keyword overrides, starts the server in
``nursery`` and returns once it listens. The server runs until the nursery
ends or its lifecycle drains.

Resource handling: the server belongs to ``nursery``; the handle holds no
resource of its own beyond the chat console's memory streams, which live as
long as the server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import trio.testing

from services.chat.config import ChatConfig
from services.chat.server import ChatServer
from services.remote_exec.config import ExecConfig
from services.remote_exec.server import ExecServer
from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.upload.config import UploadConfig
from services.upload.server import UploadServer
from tests.support.uids import sandbox_uids

HOST = "127.0.0.1"
EXEC_TOKEN = "s3cret-token"
LOGGER = logging.getLogger("netlab.test")


class EofWatch(trio.abc.ReceiveStream):
    """A receive stream that sets ``eof_read`` once its reader has been handed EOF."""

    def __init__(self, inner: trio.abc.ReceiveStream) -> None:
        self.inner = inner
        self.eof_read = trio.Event()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        data = bytes(await self.inner.receive_some(max_bytes))
        if not data:
            self.eof_read.set()
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class ChatHandle:
    """A running chat server with an operator console on memory streams."""

    server: ChatServer
    host: str
    port: int
    counters: Counters
    lifecycle: Lifecycle
    config: ChatConfig
    console_input: trio.abc.SendStream
    console_output: trio.abc.ReceiveStream
    console_source: EofWatch


@dataclass(frozen=True)
class ExecHandle:
    """A running exec server and the token it accepts."""

    server: ExecServer
    host: str
    port: int
    counters: Counters
    lifecycle: Lifecycle
    config: ExecConfig
    token: str


@dataclass(frozen=True)
class UploadHandle:
    """A running upload server and the directory it stores into."""

    server: UploadServer
    host: str
    port: int
    counters: Counters
    lifecycle: Lifecycle
    config: UploadConfig
    root: Path


# What the per-directory ``start_server`` fixtures return: ``await start_server(**config)``.
StartChat = Callable[..., Awaitable[ChatHandle]]
StartExec = Callable[..., Awaitable[ExecHandle]]
StartUpload = Callable[..., Awaitable[UploadHandle]]


async def start_chat(nursery: trio.Nursery, **overrides: Any) -> ChatHandle:
    """A chat server; the operator types into ``console_input`` and reads ``console_output``."""
    config = ChatConfig(**{"host": HOST, "port": 0, **overrides})
    console_input, source = trio.testing.memory_stream_one_way_pair()
    sink, console_output = trio.testing.memory_stream_one_way_pair()
    console_source = EofWatch(source)
    server = ChatServer(config, logger=LOGGER, console_source=console_source, console_sink=sink)
    port: int = await nursery.start(server.run)
    return ChatHandle(
        server, config.host, port, server.counters, server.lifecycle, config,
        console_input, console_output, console_source,
    )


async def start_exec(nursery: trio.Nursery, **overrides: Any) -> ExecHandle:
    """An exec server accepting ``EXEC_TOKEN`` unless ``token=`` says otherwise.

    Its sandbox lends this test process's own uids (:mod:`tests.support.uids`).
    """
    config = ExecConfig(**{"host": HOST, "port": 0, "token": EXEC_TOKEN,
                           "sandbox_uids": sandbox_uids(), **overrides})
    server = ExecServer(config, logger=LOGGER)
    port: int = await nursery.start(server.run)
    return ExecHandle(
        server, config.host, port, server.counters, server.lifecycle, config, config.token
    )


async def start_upload(nursery: trio.Nursery, root: Path, **overrides: Any) -> UploadHandle:
    """An upload server storing under ``root`` (created if missing)."""
    config = UploadConfig(**{"host": HOST, "port": 0, "root": root, **overrides})
    server = UploadServer(config, logger=LOGGER)
    port: int = await nursery.start(server.run)
    return UploadHandle(
        server, config.host, port, server.counters, server.lifecycle, config, config.root
    )

