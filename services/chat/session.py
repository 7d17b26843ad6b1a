"""One chat connection from accept to close: detect its mode, then run its read loop.

Resource handling: a connection costs its handler task and the writer task
of ``PeerConnection.session()``, nothing more, so idle clients stay cheap.
The client is registered in the :class:`Directory` only inside the session
and unregistered before the session flushes and closes its queue.

Error handling: a bad line in line or netlab mode is answered with an error
line and the connection goes on; bad bytes from a classic client close it.
Timeouts, resets and slow consumers (``RuntimeFailure``) end the connection
with a log line and a count; nothing escapes to ``serve``.
"""

from __future__ import annotations

import logging

import trio

from services.chat.classic import CLASSIC_RECV, ClassicDecoder
from services.chat.config import ChatConfig
from services.chat.detect import Detected, Mode, ModeDetector
from services.chat.directory import Directory, Member
from services.chat.events import (
    Bye,
    ChatCode,
    ClientEvent,
    Error,
    Help,
    HelpText,
    Invalid,
    Join,
    ListRooms,
    Quit,
    Say,
    SetNick,
    Tell,
    Who,
)
from services.chat.protocol import HELP, ServerProtocol, encode_server_event
from services.chat.ratelimit import TokenBucket
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import PeerClosed, PeerTimeout, RuntimeFailure
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event
from services.wire.errors import RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA


class ChatHandler:
    """The per-connection logic of the chat server (``serve`` calls it once per client)."""

    def __init__(
        self,
        *,
        config: ChatConfig,
        directory: Directory,
        counters: Counters,
        lifecycle: Lifecycle,
        logger: logging.Logger,
    ) -> None:
        self.config = config
        self.directory = directory
        self.counters = counters
        self.lifecycle = lifecycle
        self.logger = logger
        # Connections still being detected; cancelled at once on shutdown.
        self.undecided: set[trio.CancelScope] = set()

    async def __call__(self, conn: PeerConnection) -> None:
        try:
            async with conn.session():
                detected = await self._detect(conn)
                if detected is None or detected.mode is Mode.CLOSED:
                    return
                if self.lifecycle.is_draining:
                    self._send_error(conn, ChatCode.SERVER_SHUTDOWN, "server is shutting down")
                    return
                log_event(self.logger, "mode", peer=conn.peer, mode=detected.mode.value)
                member = self.directory.enter(conn, classic=detected.mode is Mode.CLASSIC)
                try:
                    with member.scope:
                        if member.classic:
                            await self._classic_loop(member, detected.data)
                        else:
                            await self._line_loop(member, detected.data)
                finally:
                    self.directory.leave(member, member.leave_reason or "closed")
        except RuntimeFailure as exc:
            if not isinstance(exc, PeerClosed):
                self.counters.error(exc.reason)
            log_event(self.logger, "connection-ended", peer=conn.peer, reason=exc.reason,
                      detail=str(exc))

    # -- mode detection -------------------------------------------------------
    async def _detect(self, conn: PeerConnection) -> Detected | None:
        detector = ModeDetector(window=self.config.classic_window, max_line=self.config.max_line)
        with trio.CancelScope() as scope:
            self.undecided.add(scope)
            try:
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
                            self._send_error(
                                conn, ChatCode.IDLE_TIMEOUT, f"nothing received for {limit:g} s"
                            )
                            return None
                        continue
                    try:
                        detector.receive_data(data, trio.current_time())
                    except RemoteProtocolError as exc:
                        self._protocol_error(conn, exc)
                        return None
                return decided
            finally:
                self.undecided.discard(scope)
        return None  # cancelled by shutdown

    # -- line and netlab mode -------------------------------------------------
    async def _line_loop(self, member: Member, initial: bytes) -> None:
        conn = member.conn
        proto = ServerProtocol(self.config.max_line)
        if initial:
            proto.receive_data(initial)
        while True:
            try:
                event = proto.next_event()
            except RemoteProtocolError as exc:
                self._protocol_error(conn, exc, member)
                continue
            if event is NEED_DATA:
                try:
                    data = await conn.receive()
                except PeerTimeout as exc:
                    self._idle(member, str(exc))
                    return
                except PeerClosed:
                    member.leave_reason = "reset"
                    raise
                proto.receive_data(data)
                continue
            if event is CLOSED:
                member.leave_reason = "closed"
                return
            if isinstance(event, Quit):
                member.leave_reason = f"quit: {event.reason}" if event.reason else "quit"
                self.directory.reply(member, Bye())
                return
            self._dispatch(member, event)
            await self._pace(member)

    def _dispatch(self, member: Member, event: ClientEvent) -> None:
        directory = self.directory
        match event:
            case Say(text):
                directory.say(member, text)
            case SetNick(nick):
                directory.rename(member, nick)
            case Join(room):
                directory.move(member, room)
            case ListRooms():
                directory.reply(member, directory.room_list())
            case Who():
                directory.reply(member, directory.who(member.room))
            case Tell(nick, text):
                if not directory.tell(member.nick, nick, text, echo=member):
                    directory.reply(
                        member, Error(ChatCode.NO_SUCH_NICK, f"no client is called {nick}")
                    )
            case Help():
                directory.reply(member, HelpText(HELP))
            case Invalid(code, message):
                self.counters.error(code)
                directory.reply(member, Error(code, message))
            case Quit():
                raise AssertionError("handled by the read loop")

    # -- classic mode ---------------------------------------------------------
    async def _classic_loop(self, member: Member, initial: bytes) -> None:
        conn = member.conn
        decoder = ClassicDecoder()
        # What arrived during detection, cut as the tutorial's recv(1024) would.
        backlog = [initial[i:i + CLASSIC_RECV] for i in range(0, len(initial), CLASSIC_RECV)]
        chunk = backlog.pop(0)
        while True:
            try:
                texts = decoder.messages(chunk)
            except RemoteProtocolError as exc:
                # A classic client cannot read an error line as an error: close.
                self.counters.error(exc.code)
                log_event(self.logger, "protocol-error", level=logging.WARNING, peer=conn.peer,
                          code=exc.code, detail=exc.message, mode="classic")
                member.leave_reason = exc.code
                return
            for text in texts:
                self.directory.say(member, text)
                await self._pace(member)
            if not chunk:
                member.leave_reason = "closed"
                return
            if backlog:
                chunk = backlog.pop(0)
                continue
            try:
                chunk = await conn.receive(CLASSIC_RECV)
            except PeerTimeout as exc:
                self._idle(member, str(exc))
                return
            except PeerClosed:
                member.leave_reason = "reset"
                raise

    async def _pace(self, member: Member) -> None:
        """Yield after each line; hold a sender back past its rate (``TokenBucket``).

        One line per scheduler pass: every writer drains between two lines of
        a sender, so healthy queues stay short (see ``config``).
        """
        rate = self.config.max_rate
        if rate <= 0:
            await trio.lowlevel.checkpoint()
            return
        if member.bucket is None:
            # Made on the first line, so idle clients do not pay for one.
            member.bucket = TokenBucket(rate, burst=max(1, int(rate)))
        wait = member.bucket.take(trio.current_time())
        if wait > 0:
            self.counters.extra["throttled"] += 1
            await trio.sleep(wait)
        else:
            await trio.lowlevel.checkpoint()

    # -- errors ---------------------------------------------------------------
    def _idle(self, member: Member, detail: str) -> None:
        self.counters.error(ChatCode.IDLE_TIMEOUT)
        member.leave_reason = ChatCode.IDLE_TIMEOUT
        log_event(self.logger, "idle-timeout", peer=member.conn.peer, nick=member.nick)
        self.directory.deliver(member, Error(ChatCode.IDLE_TIMEOUT, detail))

    def _protocol_error(
        self, conn: PeerConnection, exc: RemoteProtocolError, member: Member | None = None
    ) -> None:
        self.counters.error(exc.code)
        log_event(self.logger, "protocol-error", level=logging.WARNING, peer=conn.peer,
                  code=exc.code, detail=exc.message)
        if member is not None:
            self.directory.reply(member, Error(exc.code, exc.message))
        else:
            self._send_error(conn, exc.code, exc.message)

    @staticmethod
    def _send_error(conn: PeerConnection, code: str, message: str) -> None:
        conn.send_nowait(encode_server_event(Error(code, message)))
