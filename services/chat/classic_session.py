"""One classic-mode chat connection: the tutorial's client, each read a message to the room.

Resource handling: the session only reads; the member's queue and writer
belong to its connection's session (``PeerConnection.session()``).

Error handling: bad bytes close the connection (a tutorial client cannot
read an error line as one); an idle client is told and closed; a reset is
recorded as the member's leave reason and propagates to the server's handler.
"""

from __future__ import annotations

from services.chat.classic import CLASSIC_RECV, ClassicDecoder
from services.chat.context import ServerContext
from services.chat.directory import Member
from services.runtime.errors import PeerClosed, PeerTimeout
from services.wire.errors import RemoteProtocolError


class ClassicSession:
    """Serves one tutorial chat client, registered as ``member``."""

    def __init__(self, ctx: ServerContext, member: Member) -> None:
        self.ctx = ctx
        self.member = member

    async def run(self, initial: bytes) -> None:
        """Read messages until the client leaves; ``initial`` arrived during detection."""
        member = self.member
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
                self.ctx.protocol_error(member, exc, mode="classic")
                return
            for text in texts:
                self.ctx.directory.say(member, text)
                await self.ctx.pace(member)
            if not chunk:
                member.leave_reason = "closed"
                return
            if backlog:
                chunk = backlog.pop(0)
                continue
            try:
                chunk = await conn.receive(CLASSIC_RECV)
            except PeerTimeout as exc:
                self.ctx.idle_timeout(member, str(exc))
                return
            except PeerClosed:
                member.leave_reason = "reset"
                raise
