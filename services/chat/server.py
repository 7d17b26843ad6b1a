"""The chat server: the accept loop, the directory of clients, the console, shutdown.

``ChatServer.run`` is what tests start in-process (port 0, ``task_status``
reports the port); :func:`run` is what ``netlab chat serve`` calls.

Shutdown: when the lifecycle drains, every client gets
``! server-shutdown: ...`` (classic clients too: it is plain text), its read
loop ends, its queue is flushed, and it is closed; clients still being
detected are closed at once. ``serve`` then returns within the grace period.
"""

from __future__ import annotations

import logging
import sys
from functools import partial

import trio

from services.chat.config import ChatConfig
from services.chat.console import Console
from services.chat.directory import Directory
from services.chat.events import ChatCode, Error
from services.chat.protocol import encode_server_event
from services.chat.session import ChatHandler
from services.chat.stdio import FdReceiveStream, FdSendStream
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import configure_logging, get_logger, log_event
from services.runtime.main import run_server
from services.runtime.serve import serve


class ChatServer:
    """One chat server and everything it owns."""

    def __init__(
        self,
        config: ChatConfig,
        *,
        counters: Counters | None = None,
        lifecycle: Lifecycle | None = None,
        logger: logging.Logger | None = None,
        console_source: trio.abc.ReceiveStream | None = None,
        console_sink: trio.abc.SendStream | None = None,
    ) -> None:
        self.config = config
        self.counters = counters or Counters()
        self.lifecycle = lifecycle or Lifecycle()
        self.logger = logger or get_logger("chat")
        self.directory = Directory(
            counters=self.counters, logger=self.logger, notice_limit=config.notice_limit
        )
        self.handler = ChatHandler(
            config=config, directory=self.directory, counters=self.counters,
            lifecycle=self.lifecycle, logger=self.logger,
        )
        self.console: Console | None = None
        if console_source is not None:
            self.console = Console(
                self.directory, counters=self.counters, lifecycle=self.lifecycle,
                logger=self.logger, source=console_source, sink=console_sink,
            )

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until the lifecycle drains and every client is gone."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._shutdown_when_draining)
            if self.console is not None:
                nursery.start_soon(self.console.run)
            await serve(
                self.handler, self.config, counters=self.counters, lifecycle=self.lifecycle,
                logger=self.logger, refuse=self._refuse, task_status=task_status,
            )
            nursery.cancel_scope.cancel()

    async def _shutdown_when_draining(self) -> None:
        await self.lifecycle.draining.wait()
        told = self.directory.shutdown(f"server is shutting down ({self.lifecycle.reason})")
        for scope in list(self.handler.undecided):
            scope.cancel()
        log_event(self.logger, "clients-told", count=told)

    async def _refuse(self, conn: PeerConnection) -> None:
        reason = f"{self.config.max_clients} clients connected already; try again later"
        await conn.stream.send_all(encode_server_event(Error(ChatCode.SERVER_FULL, reason)))


async def run(
    *,
    config: ChatConfig,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a chat server as a process: signals, stats port, console on stdin/stdout."""
    configure_logging(config.log_level)
    server = ChatServer(
        config,
        console_source=FdReceiveStream(0) if config.console else None,
        console_sink=FdSendStream(1) if config.console else None,
    )
    await run_server(
        server.run, lifecycle=server.lifecycle, counters=server.counters, logger=server.logger,
        stats_host=config.host, stats_port=config.stats_port, task_status=task_status,
    )


def main(config: ChatConfig) -> None:
    """Blocking entry point for the CLI; exits 0 after a graceful shutdown."""
    trio.run(partial(run, config=config))
    sys.stdout.flush()
