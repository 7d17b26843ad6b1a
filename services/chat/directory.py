"""Who is connected, under which nickname, in which room; and delivering lines to them.

Resource handling: a :class:`Member` is registered while its connection's
handler runs its read loop and unregistered before the connection's queue is
closed, so a delivery never targets a closed queue of a healthy client.

Error handling: delivery never waits. Each line goes into the recipient's
bounded queue with ``send_nowait``; a full queue means the recipient does not
keep up, and it is disconnected at once as a slow consumer (with an error line
as farewell, a log line and a ``slow-consumer`` count) instead of delaying
anyone else. Its leave notice goes out after the delivery in progress, so the
recipients' order stays intact.

Order: a sender's lines are delivered synchronously, in the sender's task,
into FIFO queues; so every recipient sees each sender's lines in the order
they were sent.

Membership starts at accept (:meth:`Directory.enter`), before the client's
mode is known: from then on it receives every message sent to its room. Until
its mode is decided (:meth:`Directory.decide`) it gets only what is valid in
every mode and what the tutorial's client cannot mistake for a reply to
anything but the conversation: messages, private messages and error lines,
no welcome, no notices, no command answers. Once decided, a line or netlab
client gets ``= welcome NICK #lobby`` and its own ``* NICK joined #lobby``
(the room heard of its join at accept), then everything as before; a classic
client goes on with messages only. Nothing is queued twice or dropped at the
switch: both phases write to the same queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.chat.codec import LIST_LIMIT, encode_server_event
from services.chat.errorbudget import ErrorBudget
from services.chat.events import (
    ChatCode,
    Error,
    Joined,
    Left,
    Message,
    Private,
    Renamed,
    RoomList,
    ServerEvent,
    Welcome,
    WhoList,
)
from services.chat.grammar import DEFAULT_ROOM, GUEST_PREFIX, is_reserved_nick, nick_key
from services.chat.ratelimit import TokenBucket
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.errors import SlowConsumer
from services.runtime.logs import log_event

OPERATOR = "operator"
# Rooms larger than this get no join/leave/rename notices (only the client
# concerned hears of its own): each notice costs one line per member, so
# N clients joining one room would cost N² lines.
NOTICE_LIMIT = 200


@dataclass(eq=False, slots=True)
class Member:
    """One chatting client (``conn.end()`` ends it; what is queued is still sent)."""

    conn: PeerConnection
    nick: str
    room: str
    classic: bool = False
    # False until the client's mode is known (see the module docstring).
    decided: bool = False
    leave_reason: str = ""
    bucket: TokenBucket | None = None
    errors: ErrorBudget | None = None

    @property
    def conversation_only(self) -> bool:
        """True if it gets only messages, private messages and errors (classic, or undecided)."""
        return self.classic or not self.decided


class Directory:
    """Nicknames, rooms and delivery for one chat server."""

    def __init__(
        self, *, counters: Counters, logger: logging.Logger, notice_limit: int = NOTICE_LIMIT
    ) -> None:
        self.counters = counters
        self.notice_limit = notice_limit
        self.logger = logger
        # Keyed by nick_key(nick): lookups ignore case, members keep the nick as chosen.
        self.by_nick: dict[str, Member] = {}
        # dict as an ordered set: delivery order within a room is stable.
        self.rooms: dict[str, dict[Member, None]] = {DEFAULT_ROOM: {}}
        self.draining = False
        # Where lines meant for the operator go (set by the console).
        self.operator_sink: Callable[[str], None] | None = None
        self._next_guest = 1
        self._evicted: list[Member] = []
        self._announcing = False

    # -- membership ---------------------------------------------------------
    def enter(self, conn: PeerConnection) -> Member:
        """Register a client at accept as ``guest-N`` in the lobby; tell the room.

        Its mode is not known yet: it hears the conversation at once, and its
        welcome comes from :meth:`decide`.
        """
        while (nick := f"{GUEST_PREFIX}{self._next_guest}") in self.by_nick:
            self._next_guest += 1
        self._next_guest += 1
        member = Member(conn, nick, DEFAULT_ROOM)
        self.by_nick[nick_key(nick)] = member
        self.rooms[DEFAULT_ROOM][member] = None
        log_event(self.logger, "enter", peer=conn.peer, nick=nick)
        self.notify(DEFAULT_ROOM, Joined(DEFAULT_ROOM, nick), subject=member)
        return member

    def decide(self, member: Member, *, classic: bool) -> None:
        """``member``'s mode is known: a line or netlab client gets its welcome and own join."""
        member.classic = classic
        member.decided = True
        if self.find(member.nick) is not member:
            return  # evicted while undecided
        self.reply(member, Welcome(member.nick, member.room))
        self.reply(member, Joined(member.room, member.nick))

    def leave(self, member: Member, reason: str) -> None:
        """Unregister ``member`` (if still registered) and tell its room."""
        if self._unregister(member):
            log_event(self.logger, "leave", peer=member.conn.peer, nick=member.nick, reason=reason)
            if not self.draining:
                self.notify(member.room, Left(member.room, member.nick, reason))

    def find(self, nick: str) -> Member | None:
        """The member called ``nick``, in any case (``ALICE`` finds ``Alice``)."""
        return self.by_nick.get(nick_key(nick))

    def _unregister(self, member: Member) -> bool:
        if self.find(member.nick) is not member:
            return False
        del self.by_nick[nick_key(member.nick)]
        room = self.rooms[member.room]
        room.pop(member, None)
        if not room and member.room != DEFAULT_ROOM:
            del self.rooms[member.room]
        return True

    def rename(self, member: Member, nick: str) -> None:
        """``/nick``: refused for a reserved or look-alike name, or one taken in any case.

        A member may change the case of its own nick (``alice`` → ``Alice``).
        """
        if nick == member.nick:
            self.reply(member, Renamed(nick, nick))
            return
        if is_reserved_nick(nick):
            self._refuse_nick(member, ChatCode.BAD_NICK, f"{nick} is reserved")
            return
        holder = self.find(nick)
        if holder is not None and holder is not member:
            self._refuse_nick(member, ChatCode.NICK_TAKEN, f"{nick} is taken")
            return
        old = member.nick
        del self.by_nick[nick_key(old)]
        member.nick = nick
        self.by_nick[nick_key(nick)] = member
        log_event(self.logger, "rename", peer=member.conn.peer, old=old, new=nick)
        self.notify(member.room, Renamed(old, nick), subject=member)

    def _refuse_nick(self, member: Member, code: ChatCode, message: str) -> None:
        self.counters.error(code)
        self.reply(member, Error(code, message))

    def move(self, member: Member, room: str) -> None:
        if room == member.room:
            self.reply(member, Joined(room, member.nick))
            return
        old = member.room
        self._unregister(member)
        self.notify(old, Left(old, member.nick, f"moved to #{room}"))
        member.room = room
        self.by_nick[nick_key(member.nick)] = member
        self.rooms.setdefault(room, {})[member] = None
        self.notify(room, Joined(room, member.nick), subject=member)

    # -- conversation -------------------------------------------------------
    def say(self, member: Member, text: str) -> None:
        """``member``'s message to everyone else in its room."""
        self.counters.extra["messages_received"] += 1
        self.broadcast(member.room, Message(member.room, member.nick, text), exclude=member)
        if member.classic and self.operator_sink is not None:
            # As in the tutorial, the operator sees what classic clients say.
            self.operator_sink(f"[#{member.room}] <{member.nick}> {text}")

    def tell(self, sender: str, nick: str, text: str, *, echo: Member | None = None) -> bool:
        """A private message to ``nick`` in any case (or the operator). False if there is no such
        client. The recipient is shown as it registered (``/msg alice`` reaches ``Alice``)."""
        if nick_key(nick) == OPERATOR and self.operator_sink is not None:
            event = Private(OPERATOR, sender, text)
            self.operator_sink(f"[@{OPERATOR}] <{sender}> {text}")
            target = None
        elif (target := self.find(nick)) is not None:
            event = Private(target.nick, sender, text)
            self.counters.extra["deliveries"] += self.deliver(target, event)
        else:
            return False
        self.counters.extra["messages_received"] += 1
        if echo is not None and echo is not target:
            self.reply(echo, event)
        return True

    def who(self, room: str) -> WhoList:
        members = self.rooms.get(room, {})
        nicks = sorted(m.nick for m in members)
        return WhoList(room, len(nicks), tuple(nicks[:LIST_LIMIT]))

    def room_list(self) -> RoomList:
        rooms = sorted((name, len(members)) for name, members in self.rooms.items())
        return RoomList(len(rooms), tuple(rooms[:LIST_LIMIT]))

    # -- delivery -----------------------------------------------------------
    def reply(self, member: Member, event: ServerEvent) -> None:
        """A line for ``member`` alone (classic and undecided clients: only messages and errors)."""
        if member.conversation_only and not isinstance(event, (Message, Private, Error)):
            return
        self.deliver(member, event)
        self._announce_evictions()

    def deliver(self, member: Member, event: ServerEvent | bytes) -> int:
        """Queue one line for ``member``; 1 if queued, 0 if it was evicted instead."""
        data = event if isinstance(event, bytes) else encode_server_event(event)
        if member.conn.send_nowait(data):
            return 1
        self._evict(member)
        return 0

    def notify(self, room: str, event: ServerEvent, *, subject: Member | None = None) -> None:
        """A join/leave/rename notice: to the room, or to ``subject`` alone in a large room."""
        members = self.rooms.get(room, {})
        if len(members) <= self.notice_limit:
            self.broadcast(room, event, notice=True)
        elif subject is not None and subject in members:
            self.reply(subject, event)

    def broadcast(
        self,
        room: str,
        event: ServerEvent,
        *,
        exclude: Member | None = None,
        notice: bool = False,
    ) -> int:
        """Queue ``event`` for everyone in ``room``; notices skip classic and undecided clients."""
        members = self.rooms.get(room)
        if not members:
            return 0
        data = encode_server_event(event)
        delivered = 0
        full: list[Member] = []
        for member in members:
            if member is exclude or (notice and member.conversation_only):
                continue
            if member.conn.send_nowait(data):
                delivered += 1
            else:
                full.append(member)
        for member in full:
            self._evict(member)
        if not notice:
            self.counters.extra["deliveries"] += delivered
        self._announce_evictions()
        return delivered

    def _evict(self, member: Member) -> None:
        if not self._unregister(member):
            return
        size = member.conn.queued
        farewell = encode_server_event(
            Error(ChatCode.SLOW_CONSUMER, "you did not read fast enough; disconnected")
        )
        member.leave_reason = ChatCode.SLOW_CONSUMER
        member.conn.abort(SlowConsumer("outgoing queue full"), farewell=farewell)
        self.counters.extra["slow_consumers"] += 1
        log_event(
            self.logger, "slow-consumer", level=logging.WARNING, peer=member.conn.peer,
            nick=member.nick, queued_total=size,
        )
        self._evicted.append(member)

    def _announce_evictions(self) -> None:
        if self._announcing:
            return
        self._announcing = True
        try:
            while self._evicted and not self.draining:
                gone = self._evicted.pop(0)
                self.notify(gone.room, Left(gone.room, gone.nick, ChatCode.SLOW_CONSUMER))
        finally:
            if self.draining:
                self._evicted.clear()
            self._announcing = False

    # -- operator -----------------------------------------------------------
    def end(self, member: Member, farewell: ServerEvent, reason: str) -> None:
        """Send ``farewell`` and end ``member``'s read loop (its queue is still flushed)."""
        member.leave_reason = reason
        if self.deliver(member, farewell):
            member.conn.end()

    def shutdown(self, message: str) -> int:
        """Tell every client the server is going away and end each one. Returns how many."""
        self.draining = True
        members = list(self.by_nick.values())
        farewell = encode_server_event(Error(ChatCode.SHUTTING_DOWN, message))
        for member in members:
            member.leave_reason = ChatCode.SHUTTING_DOWN
            if member.conn.send_nowait(farewell):
                member.conn.end()
            else:
                self._evict(member)
        return len(members)
