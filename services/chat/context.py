"""What every session of one chat server shares: the runtime context, the directory, pacing.

Both chat sessions (line/netlab mode and classic mode) hand their lines to
the same :class:`Directory`, are held to the same rate, and end an idle
client the same way; those shared parts live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from services.chat.codec import encode_server_event
from services.chat.config import ChatConfig
from services.chat.directory import Directory, Member
from services.chat.events import ChatCode, Error
from services.chat.ratelimit import TokenBucket
from services.runtime.connection import PeerConnection
from services.runtime.context import ServiceContext
from services.runtime.logs import log_event


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

    def idle_timeout(self, member: Member, detail: str) -> None:
        """A member sent nothing for the idle timeout: count, log, tell it (it then leaves)."""
        self.counters.error(ChatCode.IDLE_TIMEOUT)
        member.leave_reason = ChatCode.IDLE_TIMEOUT
        log_event(self.logger, "idle-timeout", peer=member.conn.peer, nick=member.nick)
        self.directory.deliver(member, Error(ChatCode.IDLE_TIMEOUT, detail))


def send_error(conn: PeerConnection, code: str, message: str) -> None:
    """Queue an error line to a connection that has no member (yet): best effort."""
    conn.send_nowait(encode_server_event(Error(code, message)))
