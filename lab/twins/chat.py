"""The chat twin: a tutorial-style chat server that takes one ``recv`` for one message.

**Its bug.** Each ``conn.recv(1024)`` is taken as one whole message and
broadcast as one chat line, with a blocking ``sendall`` to each client in
turn. TCP delivers a byte stream, not the sender's writes: a message that
arrives in several pieces (a slicing proxy, a small MSS, a busy sender)
becomes several messages, and two that arrive together become one.

The same loop sends each line to every other client with a blocking
``sendall``, one after the other, under one lock: a receiver that stops
reading stalls everyone once its socket buffer is full (the tutorial's
broadcast does the same; netlab's server queues per client instead).

**The tutorial habit behind it.** The course's chat server does
``data = conn.recv(1024)`` and prints ``data`` as the message; its
``socketserver`` variant does the same in a thread per client.

**The invariant that catches it:** ``chat.delivery`` (:data:`BREAKS`). With
the fault proxy's slicer on a sender's upstream, the other clients receive
pieces (``info garbled``), never the sender's messages.

Everything else works as the lab's clients expect, so that only this bug
shows: netlab clients (``\\0netlab/1 chat\\n``) get ``= welcome``, ``/nick``,
``/join``, ``/who``, ``/rooms``, ``/msg`` and ``/quit`` answers in the
chat line format (docs/reference/protocol/chat.md), and the tutorial's own
client (no preface) gets the messages. A receive holding line breaks is still one message: its
lines are joined with spaces, so what goes out stays one line.

Run it: ``python -m lab.twins.chat`` (``NETLAB_HOST``, ``NETLAB_PORT``).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import socketserver
import sys
import threading
from dataclasses import dataclass

from lab.twins.frames import preface
from lab.twins.serving import TwinServer, address_from_env, serve_until_signalled

BREAKS = "chat.delivery"
PREFACE = preface("chat")
LOBBY = "lobby"
HELP = "commands: /nick NAME, /join ROOM, /who, /rooms, /msg NICK TEXT, /quit"


@dataclass(eq=False)
class Member:
    """One connected client: its socket, nickname and room."""

    conn: socket.socket
    nick: str
    room: str = LOBBY


class Rooms:
    """Everyone connected; one lock guards the list and every send (the tutorial's way)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: list[Member] = []
        self.guests = itertools.count(1)

    def join(self, conn: socket.socket) -> Member:
        with self.lock:
            member = Member(conn, f"guest-{next(self.guests)}")
            self.members.append(member)
        return member

    def leave(self, member: Member, reason: str) -> None:
        with self.lock:
            if member in self.members:
                self.members.remove(member)
        self.to_room(member.room, f"* {member.nick} left #{member.room} ({reason})")

    def to_room(self, room: str, line: str, *, skip: Member | None = None) -> None:
        """Send ``line`` to everyone in ``room`` but ``skip``, one blocking ``sendall`` each."""
        data = (line + "\n").encode("utf-8")
        with self.lock:
            for other in self.members:
                if other.room == room and other is not skip:
                    send_quietly(other.conn, data)

    def to_one(self, member: Member, line: str) -> None:
        with self.lock:
            send_quietly(member.conn, (line + "\n").encode("utf-8"))

    def find(self, nick: str) -> Member | None:
        with self.lock:
            return next((m for m in self.members if m.nick.lower() == nick.lower()), None)

    def in_room(self, room: str) -> list[str]:
        with self.lock:
            return [m.nick for m in self.members if m.room == room]

    def sizes(self) -> dict[str, int]:
        with self.lock:
            sizes: dict[str, int] = {}
            for member in self.members:
                sizes[member.room] = sizes.get(member.room, 0) + 1
            return sizes


def send_quietly(conn: socket.socket, data: bytes) -> None:
    """``sendall``, ignoring a client that has gone (its own thread will notice)."""
    with contextlib.suppress(OSError):
        conn.sendall(data)


class ChatHandler(socketserver.BaseRequestHandler):
    """One client: read, take the read as a message, answer or broadcast it."""

    server: ChatTwin

    def handle(self) -> None:
        rooms = self.server.rooms
        me = rooms.join(self.request)
        reason = "closed"
        try:
            first = True
            while True:
                data = self.request.recv(1024)  # THE BUG: one recv taken as one message
                if not data:
                    break
                if first and data.startswith(b"\0"):
                    data = self.complete_preface(data)
                if first and data.startswith(PREFACE):
                    rooms.to_one(me, f"= welcome {me.nick} #{me.room}")
                    rooms.to_one(me, f"* {me.nick} joined #{me.room}")
                    data = data[len(PREFACE):]
                first = False
                text = " ".join(data.decode("utf-8", errors="replace").splitlines()).strip()
                if not text:
                    continue
                if text.startswith("/") and not text.startswith("//"):
                    if not self.command(me, text):
                        reason = "quit"
                        break
                    continue
                rooms.to_room(me.room, f"[#{me.room}] <{me.nick}> {text.removeprefix('/')}",
                              skip=me)
        except ConnectionResetError:
            reason = "reset"
        finally:
            rooms.leave(me, reason)

    def complete_preface(self, data: bytes) -> bytes:
        """Read on until ``data`` holds the whole preface (or cannot be one).

        Framing the preface is netlab glue, not the twin's bug: a client whose
        first bytes are sliced still gets its welcome.
        """
        while len(data) < len(PREFACE) and PREFACE.startswith(data):
            more = self.request.recv(1024)
            if not more:
                break
            data += more
        return data

    def command(self, me: Member, text: str) -> bool:
        """Answer one ``/command``; False when the client quits."""
        rooms = self.server.rooms
        name, _, rest = text[1:].partition(" ")
        args = rest.split()
        match name.lower(), args:
            case "nick", [nick]:
                old, me.nick = me.nick, nick
                rooms.to_room(me.room, f"* {old} is now {nick}")
            case "join", [room]:
                room = room.removeprefix("#")
                rooms.to_room(me.room, f"* {me.nick} left #{me.room} (moved to #{room})", skip=me)
                me.room = room
                rooms.to_room(room, f"* {me.nick} joined #{room}")
            case "who", []:
                nicks = rooms.in_room(me.room)
                rooms.to_one(me, f"= who #{me.room} {len(nicks)}" + "".join(f" {n}" for n in nicks))
            case "rooms", []:
                sizes = rooms.sizes()
                listed = "".join(f" #{room}:{n}" for room, n in sorted(sizes.items()))
                rooms.to_one(me, f"= rooms {len(sizes)}{listed}")
            case "msg", [nick, *words] if words:
                target = rooms.find(nick)
                if target is None:
                    rooms.to_one(me, f"! no-such-nick: no client is called {nick!r}")
                else:
                    line = f"[@{target.nick}] <{me.nick}> {' '.join(words)}"
                    rooms.to_one(target, line)
                    if target is not me:
                        rooms.to_one(me, line)
            case "quit", _:
                rooms.to_one(me, "= bye")
                return False
            case "help", []:
                rooms.to_one(me, f"= help {HELP}")
            case _:
                rooms.to_one(me, f"! unknown-command: no command /{name[:32]}; try /help")
        return True


class ChatTwin(TwinServer):
    """The chat twin's server: a thread per client and one shared :class:`Rooms`."""

    name = "chat twin"

    def __init__(self, address: tuple[str, int]) -> None:
        self.rooms = Rooms()
        super().__init__(address, ChatHandler)


def main() -> int:
    return serve_until_signalled(ChatTwin(address_from_env()))


if __name__ == "__main__":
    sys.exit(main())
