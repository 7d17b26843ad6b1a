"""The chat server: the accept loop, the directory of clients, the console, shutdown.

``ChatServer.run`` is what tests start in-process (port 0, ``task_status``
reports the port); ``netlab chat serve`` runs :func:`process_server` through
``services.runtime.main.main``.

A client joins ``#lobby`` the moment it is accepted, before its first
byte (see :mod:`services.chat.directory` for what it hears while its mode is
unknown). Its mode is then told apart here (:mod:`services.chat.detect`);
each mode has its session (:mod:`~services.chat.session`,
:mod:`~services.chat.classic_session`). A client that never sends a byte
keeps hearing the room until the idle timeout, like any silent client:
receiving is not activity, so a dead peer cannot hold its place forever.

Shutdown: when the lifecycle drains, every client gets
``! shutting-down: ...`` (classic and not yet detected clients too: it is
plain text), its read loop (or detection) ends, its queue is flushed, and it
is closed. ``serve`` then returns within the grace period.
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
from services.chat.directory import Directory, Member
from services.chat.events import ChatCode, Error
from services.chat.session import LineSession
from services.chat.stdio import FdReceiveStream, FdSendStream
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerTimeout
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event
from services.runtime.server import Server, Task
from services.runtime.sniff import refuse_http
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
        await conn.stream.send_all(encode_server_event(Error(ChatCode.BUSY, reason)))

    async def serve_connection(self, conn: PeerConnection) -> None:
        """Register the client at accept, tell its mode apart, run the session of its mode."""
        if self.lifecycle.is_draining:
            send_error(conn, ChatCode.SHUTTING_DOWN, "server is shutting down")
            return
        # In the lobby before its first byte: a client that only listens hears
        # the room, and nobody misses a message sent while its mode is unknown.
        # Ended (kick, shutdown) through its connection: conn.end().
        member = self.directory.enter(conn)
        try:
            detected = await self._detect(member)
            if detected is None:
                return
            if detected.mode is not Mode.NETLAB and refuse_http(conn, detected.data):
                member.leave_reason = "http-refused"
                return
            log_event(self.logger, "mode", peer=conn.peer, mode=detected.mode.value)
            self.directory.decide(member, classic=detected.mode is Mode.CLASSIC)
            session = (ClassicSession if member.classic else LineSession)(self.ctx, member)
            await session.run(detected.data)
        finally:
            self.directory.leave(member, member.leave_reason or "closed")

    async def _detect(self, member: Member) -> Detected | None:
        """The client's mode; None if it left, broke the rules or timed out (reason recorded)."""
        conn = member.conn
        detector = ModeDetector(window=self.config.classic_window, max_line=self.config.max_line)
        while (decided := detector.decide(trio.current_time())) is None:
            deadline = detector.deadline
            timeout = None if deadline is None else max(0.0, deadline - trio.current_time())
            try:
                data = await conn.receive(timeout=timeout)
            except PeerTimeout:
                if deadline is None:
                    limit = self.config.idle_timeout
                    self.ctx.idle_timeout(member, f"nothing received for {limit:g} s")
                    return None
                continue
            except PeerClosed:
                member.leave_reason = "reset"
                raise
            try:
                detector.receive_data(data, trio.current_time())
            except RemoteProtocolError as exc:
                self.ctx.protocol_error(member, exc)
                self.directory.reply(member, Error(exc.code, exc.message))
                return None
        if decided.mode is Mode.CLOSED:
            member.leave_reason = "closed"
            return None
        return decided


def process_server(config: ChatConfig) -> ChatServer:
    """The server ``netlab chat serve`` runs: its console on stdin/stdout if ``config.console``."""
    return ChatServer(
        config,
        console_source=FdReceiveStream(0) if config.console else None,
        console_sink=FdSendStream(1) if config.console else None,
    )
