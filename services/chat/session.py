"""One line-mode or netlab-mode chat connection: its read loop and its commands.

Resource handling: the session only reads and dispatches; the member's
queue and writer belong to its connection's session
(``PeerConnection.session()``); the server registers the member at accept,
before its mode is known, and unregisters it when :meth:`LineSession.run`
returns.

Error handling: a bad line is answered with an error line and the
connection goes on, within the client's error budget (``context.refuse``:
the first few logged, too many close it with ``too-many-errors``); every
line, refused or not, counts against the client's rate; an idle client is
told and closed; a reset is recorded
as the member's leave reason and propagates to the server's handler.
"""

from __future__ import annotations

from services.chat.codec import HELP
from services.chat.context import ServerContext
from services.chat.directory import Member
from services.chat.events import (
    Bye,
    ChatCode,
    ClientEvent,
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
from services.chat.protocol import ServerProtocol
from services.runtime.errors import PeerClosed, PeerTimeout
from services.wire.errors import RemoteProtocolError
from services.wire.sentinels import CLOSED


class LineSession:
    """Serves one line-mode (``nc``) or netlab-mode client, registered as ``member``."""

    def __init__(self, ctx: ServerContext, member: Member) -> None:
        self.ctx = ctx
        self.member = member

    async def run(self, initial: bytes) -> None:
        """Read and dispatch lines until the client quits or leaves."""
        member = self.member
        conn = member.conn
        proto = ServerProtocol(self.ctx.config.max_line)
        if initial:
            proto.receive_data(initial)
        while True:
            try:
                event = await conn.next_event(proto)
            except RemoteProtocolError as exc:  # one bad line; the next one may be fine
                if not self.ctx.refuse(member, exc.code, exc.message, log=True):
                    return
                # A refused line costs its sender as much as any other.
                await self.ctx.pace(member)
                continue
            except PeerTimeout as exc:
                self.ctx.idle_timeout(member, str(exc))
                return
            except PeerClosed:
                member.leave_reason = "reset"
                raise
            if event is CLOSED:
                member.leave_reason = "closed"
                return
            if isinstance(event, Quit):
                member.leave_reason = f"quit: {event.reason}" if event.reason else "quit"
                self.ctx.directory.reply(member, Bye())
                return
            if not self._dispatch(event):
                return
            await self.ctx.pace(member)

    def _dispatch(self, event: ClientEvent) -> bool:
        """Carry out one event; False if the client must leave (error budget spent)."""
        directory = self.ctx.directory
        member = self.member
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
                    return self.ctx.refuse(
                        member, ChatCode.NO_SUCH_NICK, f"no client is called {nick}"
                    )
            case Help():
                directory.reply(member, HelpText(HELP))
            case Invalid(code, message):
                return self.ctx.refuse(member, code, message)
            case Quit():
                raise AssertionError("handled by the read loop")
        return True
