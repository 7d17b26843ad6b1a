"""A fleet's chat clients: each says K numbered lines and records every line it hears.

Theory of operation. Every client of the fleet connects (netlab mode, nick =
its process name; ``info joined {"nick", "room"}`` once the server has
answered, i.e. the client is in the room) and waits at the fleet's start barrier, so that all of
them are in the room before anyone speaks; then each says ``messages``
lines ``m <process> <seq> <sent_time>``, ``interval`` seconds apart, while
a receiver task records each such line it hears (``info recv``) and any
other line from a fleet client as ``info garbled``. Once every client of the
fleet is done sending, each keeps listening until ``linger`` seconds pass
with nothing new, says ``/quit`` and records ``ok close``.

Liveness: a connection can die without a FIN or a reset reaching us (a
network partition, a paused peer). When nothing arrives for ``liveness``
seconds the receiver sends ``/who``, which the server must answer; no
answer within ``liveness`` more and the client records ``info disconnected
{"error": "liveness timeout"}``.

Error handling: a connection that ends before the client is done becomes
``info disconnected``; the client reconnects (bounded, with backoff) while it
has lines left to say, and goes on from the next sequence number (a line
whose send was interrupted is never said twice). ``ok done {"sent", "received"}``
ends every client's history.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import trio

from lab.fleet.record import CONNECT_TIMEOUT, RECONNECT, ProcessLog, describe, guarded
from lab.fleet.spec import ChatSpec
from services.chat.client import ChatClient, ChatClosed, ChatRefused, open_chat
from services.chat.events import Message, Who
from services.chat.grammar import MAX_NAME
from services.wire.errors import ProtocolError

TEXT = re.compile(r"m (\S+) ([0-9]+) ([0-9]+(?:\.[0-9]+)?)")
# A fleet chat client's nick: its process name, or that plus -rN after a reconnect.
FLEET_NICK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.chat-[0-9]+(?:-r[0-9]+)?")


def message_text(process: str, seq: int, sent: float) -> str:
    """The line client ``process`` says as its ``seq``-th message."""
    return f"m {process} {seq} {sent:.6f}"


def parse_text(text: str) -> tuple[str, int] | None:
    """(sender process, seq) of a fleet message's text; None for any other text."""
    match = TEXT.fullmatch(text)
    return (match.group(1), int(match.group(2))) if match else None


class Rendezvous:
    """Set once ``parties`` arrivals are in (each party arrives at most once)."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived: set[str] = set()
        self.done = trio.Event()
        if parties <= 0:
            self.done.set()

    def arrive(self, party: str) -> None:
        self.arrived.add(party)
        if len(self.arrived) >= self.parties:
            self.done.set()


@dataclass
class ChatFleet:
    """What a fleet's chat clients share: the start barrier and the end of sending."""

    clients: int
    connected: Rendezvous = field(init=False)
    sent: Rendezvous = field(init=False)

    def __post_init__(self) -> None:
        self.connected = Rendezvous(self.clients)
        self.sent = Rendezvous(self.clients)


class _Lost(Exception):
    """This connection is over (the message says why); raised to skip the polite /quit."""


class ChatRun:
    """One chat client's whole run (all its connections)."""

    def __init__(self, log: ProcessLog, spec: ChatSpec, fleet: ChatFleet) -> None:
        self.log = log
        self.spec = spec
        self.fleet = fleet
        self.next_seq = 0
        self.sent = 0
        self.received = 0
        self.heard = trio.Event()  # set by each message heard (a new one per quiet wait)
        self.lost = ""

    async def run(self, deadline: float) -> None:
        try:
            await guarded(self.log, deadline, self._connections)
        finally:
            # Never keep the others waiting for a client that has stopped.
            self.fleet.connected.arrive(self.log.process)
            self.fleet.sent.arrive(self.log.process)
            self.log.ok("done", {"sent": self.sent, "received": self.received})

    async def _connections(self) -> None:
        delays = RECONNECT.delays()
        attempt = 0
        while not await self._connection(attempt):
            delay = next(delays, None)
            if delay is None:
                return
            await trio.sleep(delay)
            attempt += 1

    async def _connection(self, attempt: int) -> bool:
        """One connection; True when the client is done (nothing left to say)."""
        self.log.connecting()
        self.lost = ""
        try:
            async with open_chat(self.spec.host, self.spec.port,
                                 connect_timeout=CONNECT_TIMEOUT) as chat:
                self.log.connect_ok(chat.stream)
                await self._take_nick(chat, attempt)
                # The server has answered: from now on this client is in the room.
                self.log.info("joined", {"nick": chat.nick, "room": chat.room})
                await self._session(chat)
                if self.lost:
                    raise _Lost(self.lost)
            self.log.closed()
            return True
        except (_Lost, ChatClosed, ChatRefused, ProtocolError, OSError,
                trio.TooSlowError) as exc:
            error = "no answer in time" if isinstance(exc, trio.TooSlowError) else describe(exc)
            if self.log.connected:
                self.log.lost(error)
            else:
                self.log.connect_fail(error)
                self.fleet.connected.arrive(self.log.process)  # no one waits on our retries
        return self.next_seq >= self.spec.messages

    async def _take_nick(self, chat: ChatClient, attempt: int) -> None:
        process = self.log.process
        candidates = [process, f"{process}-r{attempt}"] if attempt else [process]
        for nick in candidates:
            if len(nick) > MAX_NAME:
                continue
            try:
                await chat.set_nick(nick)
                return
            except ChatRefused:
                continue  # taken (our own dead connection still there): the next, or a guest

    async def _session(self, chat: ChatClient) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._receive, chat, nursery.cancel_scope)
            self.fleet.connected.arrive(self.log.process)
            await self.fleet.connected.done.wait()
            try:
                await self._say_all(chat)
            except ChatClosed as exc:
                self._end(nursery.cancel_scope, describe(exc))
                return
            self.fleet.sent.arrive(self.log.process)
            await self.fleet.sent.done.wait()
            await self._quiet()
            nursery.cancel_scope.cancel()

    async def _quiet(self) -> None:
        """Return once ``linger`` seconds pass without a new message."""
        while True:
            self.heard = trio.Event()
            with trio.move_on_after(self.spec.linger) as quiet:
                await self.heard.wait()
            if quiet.cancelled_caught:
                return

    async def _say_all(self, chat: ChatClient) -> None:
        while self.next_seq < self.spec.messages:
            seq = self.next_seq
            self.next_seq += 1
            self.log.invoke("send", {"seq": seq})
            await chat.say(message_text(self.log.process, seq, time.time()))
            self.log.ok("send", {"seq": seq})
            self.sent += 1
            if self.next_seq < self.spec.messages:
                await trio.sleep(self.spec.interval)

    async def _receive(self, chat: ChatClient, scope: trio.CancelScope) -> None:
        asked = False
        while True:
            try:
                event = await chat.next_event(timeout=self.spec.liveness)
            except trio.TooSlowError:
                if asked:
                    self._end(scope, "liveness timeout")
                    return
                asked = True
                with trio.move_on_after(self.spec.liveness):
                    try:
                        await chat.send(Who())  # the server must answer this
                    except ChatClosed as exc:
                        self._end(scope, describe(exc))
                        return
                continue
            except ChatClosed as exc:
                self._end(scope, describe(exc) or "server closed the connection")
                return
            asked = False
            if isinstance(event, Message):
                self._heard(event)

    def _heard(self, event: Message) -> None:
        self.heard.set()
        parsed = parse_text(event.text)
        if parsed is not None:
            self.received += 1
            self.log.info("recv", {"from": parsed[0], "seq": parsed[1]})
        elif FLEET_NICK.fullmatch(event.nick):
            self.log.info("garbled", {"text": event.text})

    def _end(self, scope: trio.CancelScope, reason: str) -> None:
        self.lost = self.lost or reason
        scope.cancel()
