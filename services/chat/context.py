"""What every session of one chat server shares: the runtime context, the directory, pacing.

Both chat sessions (line/netlab mode and classic mode) hand their lines to
the same :class:`Directory`, are held to the same rate, and end an idle
client the same way; those shared parts live here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from services.chat.codec import encode_server_event
from services.chat.config import ChatConfig
from services.chat.directory import Directory, Member
from services.chat.errorbudget import ErrorBudget, Verdict
from services.chat.events import ChatCode, Error
from services.chat.ratelimit import TokenBucket
from services.runtime.connection import PeerConnection
from services.runtime.context import ServiceContext
from services.runtime.logs import log_event
from services.wire.errors import RemoteProtocolError


@dataclass(kw_only=True)
class ServerContext(ServiceContext[ChatConfig]):
    """The runtime's context plus the directory of connected clients."""

    directory: Directory = field(init=False)

    def __post_init__(self) -> None:
        self.directory = Directory(
            counters=self.counters, logger=self.logger, notice_limit=self.config.notice_limit
        )

    async def pace(self, member: Member) -> None:
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
            self.count("throttled")
            await trio.sleep(wait)
        else:
            await trio.lowlevel.checkpoint()

    def refuse(self, member: Member, code: str, message: str, *, log: bool = False) -> bool:
        """A line from ``member`` refused with ``code``: count it and answer it.

        The first few are logged (if ``log``), then only counted
        (:mod:`services.chat.errorbudget`). False when the member's error
        budget is spent: it has been told ``too-many-errors`` and must leave.
        """
        self.counters.error(code)
        if member.errors is None:
            member.errors = ErrorBudget(self.config.max_errors)
        verdict = member.errors.record(trio.current_time())
        peer, nick = member.conn.peer, member.nick
        if verdict is Verdict.CLOSE:
            self.counters.error(ChatCode.TOO_MANY_ERRORS)
            member.leave_reason = ChatCode.TOO_MANY_ERRORS
            log_event(self.logger, "too-many-errors", level=logging.WARNING, peer=peer,
                      nick=nick, refused=member.errors.refused)
            self.directory.reply(member, Error(
                ChatCode.TOO_MANY_ERRORS, f"{member.errors.refused} refused lines; disconnected"
            ))
            return False
        if verdict is Verdict.LOG and log:
            log_event(self.logger, "protocol-error", level=logging.WARNING, peer=peer,
                      code=code, detail=message)
        elif verdict is Verdict.MUTE:
            log_event(self.logger, "errors-muted", peer=peer, nick=nick,
                      refused=member.errors.refused)
        self.directory.reply(member, Error(code, message))
        return True

    def protocol_error(self, member: Member, exc: RemoteProtocolError, **fields: object) -> None:
        """``member`` sent bytes that end its connection: count, log, record why it leaves."""
        self.counters.error(exc.code)
        log_event(self.logger, "protocol-error", level=logging.WARNING, peer=member.conn.peer,
                  code=exc.code, detail=exc.message, **fields)
        member.leave_reason = exc.code

    def idle_timeout(self, member: Member, detail: str) -> None:
        """A member sent nothing for the idle timeout: count, log, tell it (it then leaves)."""
        self.counters.error(ChatCode.IDLE_TIMEOUT)
        member.leave_reason = ChatCode.IDLE_TIMEOUT
        log_event(self.logger, "idle-timeout", peer=member.conn.peer, nick=member.nick)
        self.directory.deliver(member, Error(ChatCode.IDLE_TIMEOUT, detail))


def send_error(conn: PeerConnection, code: str, message: str) -> None:
    """Queue an error line to a connection that has no member (yet): best effort."""
    conn.send_nowait(encode_server_event(Error(code, message)))
