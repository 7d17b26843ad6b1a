"""The chat server: the accept loop, the directory of clients, the console, shutdown.

``ChatServer.run`` is what tests start in-process (port 0, ``task_status``
reports the port); ``netlab chat serve`` runs :func:`process_server` through
``services.runtime.main.main``.

The connection's mode is told apart here (:mod:`services.chat.detect`); each
mode has its session (:mod:`~services.chat.session`,
:mod:`~services.chat.classic_session`).

Shutdown: when the lifecycle drains, every client gets
``! server-shutdown: ...`` (classic clients too: it is plain text), its read
loop ends, its queue is flushed, and it is closed; clients still being
detected are closed at once. ``serve`` then returns within the grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from services.chat.classic_session import ClassicSession
from services.chat.codec import encode_server_event
from services.chat.config import ChatConfig
from services.chat.console import Console
from services.chat.context import ServerContext, send_error
from services.chat.detect import Detected, Mode, ModeDetector
from services.chat.directory import Directory
from services.chat.events import ChatCode, Error
from services.chat.session import LineSession
from services.chat.stdio import FdReceiveStream, FdSendStream
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerTimeout
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event
from services.runtime.server import Server, Task
from services.wire.errors import RemoteProtocolError


class ChatServer(Server[ChatConfig, ServerContext]):
    """One chat server: mode detection, the directory, the console, shutdown notices."""

    service = "chat"
    context_type = ServerContext
    # A chat client leaving by reset is an ordinary way to go: logged, not an error.
    uncounted = (PeerClosed,)

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
        super().__init__(config, counters=counters, lifecycle=lifecycle, logger=logger)
        self.console: Console | None = None
        if console_source is not None:
            self.console = Console(
                self.directory, counters=self.counters, lifecycle=self.lifecycle,
                logger=self.logger, source=console_source, sink=console_sink,
            )

    @property
    def directory(self) -> Directory:
        return self.ctx.directory

    def background(self) -> Sequence[Task]:
        tasks: list[Task] = [self._shutdown_when_draining]
        if self.console is not None:
            tasks.append(self.console.run)
        return tasks

    async def _shutdown_when_draining(self) -> None:
        await self.lifecycle.draining.wait()
        told = self.directory.shutdown(f"server is shutting down ({self.lifecycle.reason})")
        log_event(self.logger, "clients-told", count=told)

    async def refuse(self, conn: PeerConnection) -> None:
        reason = f"{self.config.max_clients} clients connected already; try again later"
        await conn.stream.send_all(encode_server_event(Error(ChatCode.SERVER_FULL, reason)))

    async def serve_connection(self, conn: PeerConnection) -> None:
        """Detect the client's mode, register it, run the session of its mode."""
        detected = await self._detect(conn)
        if detected is None or detected.mode is Mode.CLOSED:
            return
        if self.lifecycle.is_draining:
            send_error(conn, ChatCode.SERVER_SHUTDOWN, "server is shutting down")
            return
        log_event(self.logger, "mode", peer=conn.peer, mode=detected.mode.value)
        member = self.directory.enter(conn, classic=detected.mode is Mode.CLASSIC)
        session = (ClassicSession if member.classic else LineSession)(self.ctx, member)
        try:
            with member.scope:
                await session.run(detected.data)
        finally:
            self.directory.leave(member, member.leave_reason or "closed")

    async def _detect(self, conn: PeerConnection) -> Detected | None:
        """The client's mode; None if it broke the rules, timed out, or shutdown came first."""
        detector = ModeDetector(window=self.config.classic_window, max_line=self.config.max_line)
        with self.idle_waits.idle():  # shutdown closes clients still being detected
            while (decided := detector.decide(trio.current_time())) is None:
                deadline = detector.deadline
                timeout = None if deadline is None else max(0.0, deadline - trio.current_time())
                try:
                    data = await conn.receive(timeout=timeout)
                except PeerTimeout:
                    if deadline is None:
                        self.counters.error(ChatCode.IDLE_TIMEOUT)
                        log_event(self.logger, "idle-timeout", peer=conn.peer, nick=None)
                        limit = self.config.idle_timeout
                        send_error(conn, ChatCode.IDLE_TIMEOUT, f"nothing received for {limit:g} s")
                        return None
                    continue
                try:
                    detector.receive_data(data, trio.current_time())
                except RemoteProtocolError as exc:
                    self.counters.error(exc.code)
                    log_event(self.logger, "protocol-error", level=logging.WARNING,
                              peer=conn.peer, code=exc.code, detail=exc.message)
                    send_error(conn, exc.code, exc.message)
                    return None
            return decided
        return None


def process_server(config: ChatConfig) -> ChatServer:
    """The server ``netlab chat serve`` runs: its console on stdin/stdout if ``config.console``."""
    return ChatServer(
        config,
        console_source=FdReceiveStream(0) if config.console else None,
        console_sink=FdSendStream(1) if config.console else None,
    )
