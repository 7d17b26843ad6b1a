"""Chat messages ↔ lines: the line grammar of both directions, sans-IO.

After the mode is known (see :mod:`services.chat.detect`), both directions are
UTF-8 lines ending in ``\\n`` (``\\r\\n`` accepted), so a person on ``nc`` or
``telnet`` can talk to the server directly. The client's lines are text, or
commands starting with ``/``. Each server line starts with a marker that says
what it is, readable by a person and parsed strictly by the client library:

====================================  ============================
``[#ROOM] <NICK> TEXT``               :class:`Message`
``[@TO] <FROM> TEXT``                 :class:`Private`
``* NICK joined #ROOM``               :class:`Joined`
``* NICK left #ROOM`` [`` (REASON)``] :class:`Left`
``* OLD is now NEW``                  :class:`Renamed`
``= welcome NICK #ROOM``              :class:`Welcome`
``= rooms TOTAL #ROOM:N ...``         :class:`RoomList`
``= who #ROOM TOTAL NICK ...``        :class:`WhoList`
``= help TEXT``                       :class:`HelpText`
``= bye``                             :class:`Bye`
``! CODE: MESSAGE``                   :class:`Error`
====================================  ============================

Error handling: a client line the server cannot act on is an
:class:`Invalid` event, not an error; a server line outside the table raises
``bad-message``; an event that cannot be put on a line raises
:class:`LocalProtocolError`. Splitting the stream into lines (and the limits
on them) is :mod:`services.chat.protocol`'s job.
"""

from __future__ import annotations

import re

from services.chat.events import (
    ERRORS,
    LEGACY_CODES,
    Bye,
    ChatCode,
    ClientEvent,
    Error,
    Help,
    HelpText,
    Invalid,
    Join,
    Joined,
    Left,
    ListRooms,
    Message,
    Private,
    Quit,
    Renamed,
    RoomList,
    Say,
    ServerEvent,
    SetNick,
    Tell,
    Welcome,
    Who,
    WhoList,
)
from services.chat.grammar import NAME_PATTERN, is_name, room_name, sanitize
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.lines import encode_line

LIST_LIMIT = 200  # names in one ``= rooms`` or ``= who`` line

HELP = (
    "commands: /nick NAME, /join ROOM, /rooms, /who, /msg NICK TEXT, /quit [REASON], /help;"
    " any other line is said to your room (start it with // to say a line beginning with /)"
)
USAGE = {
    "nick": "/nick NAME",
    "join": "/join ROOM",
    "rooms": "/rooms",
    "who": "/who",
    "msg": "/msg NICK TEXT",
    "quit": "/quit [REASON]",
    "help": "/help",
}

_N = NAME_PATTERN
_SERVER_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\[#({_N})\] <({_N})> (.*)"), "message"),
    (re.compile(rf"\[@({_N})\] <({_N})> (.*)"), "private"),
    (re.compile(rf"\* ({_N}) joined #({_N})"), "joined"),
    (re.compile(rf"\* ({_N}) left #({_N})(?: \((.+)\))?"), "left"),
    (re.compile(rf"\* ({_N}) is now ({_N})"), "renamed"),
    (re.compile(rf"= welcome ({_N}) #({_N})"), "welcome"),
    (re.compile(rf"= rooms (0|[1-9][0-9]{{0,8}})((?: #{_N}:(?:0|[1-9][0-9]{{0,8}}))*)"), "rooms"),
    (re.compile(rf"= who #({_N}) (0|[1-9][0-9]{{0,8}})((?: {_N})*)"), "who"),
    (re.compile(r"= help (.+)"), "help"),
    (re.compile(r"= bye"), "bye"),
    (re.compile(r"! ([a-z][a-z-]{0,31}): (.*)"), "error"),
]


def parse_client_line(line: str) -> ClientEvent | None:
    """What one client line means; None for a blank line (ignored)."""
    if not line.strip():
        return None
    if line.startswith("//"):
        return Say(sanitize(line[1:]))
    if not line.startswith("/"):
        return Say(sanitize(line))
    name, _, rest = line[1:].partition(" ")
    command = name.lower()
    rest = rest.strip()
    args = rest.split()
    if command == "nick":
        if len(args) != 1:
            return _usage(command)
        if not is_name(args[0]):
            return Invalid(ChatCode.BAD_NICK, _name_rule("nickname"))
        return SetNick(args[0])
    if command == "join":
        if len(args) != 1:
            return _usage(command)
        room = room_name(args[0])
        if room is None:
            return Invalid(ChatCode.BAD_ROOM, _name_rule("room name"))
        return Join(room)
    if command in ("rooms", "who", "help"):
        if args:
            return _usage(command)
        simple: dict[str, ClientEvent] = {"rooms": ListRooms(), "who": Who(), "help": Help()}
        return simple[command]
    if command == "msg":
        nick, _, text = rest.partition(" ")
        if not nick or not text.strip():
            return _usage(command)
        if not is_name(nick):
            return Invalid(ChatCode.NO_SUCH_NICK, f"no client is called {sanitize(nick)!r}")
        return Tell(nick, sanitize(text.strip()))
    if command == "quit":
        return Quit(sanitize(rest))
    shown = sanitize(name[:32])
    return Invalid(ChatCode.UNKNOWN_COMMAND, f"no command /{shown}; try /help")


def _usage(command: str) -> Invalid:
    return Invalid(ChatCode.BAD_ARGUMENTS, f"usage: {USAGE[command]}")


def _name_rule(what: str) -> str:
    return f"a {what} is 1-24 of A-Z a-z 0-9 _ . - and does not start with . or -"


def encode_server_event(event: ServerEvent) -> bytes:
    """The line that carries ``event`` from server to client.

    Every line to every client (line, netlab, classic) is made here, so the
    free text of each event is sanitized here, whatever path it came by
    (names are checked by the grammar; a line break is refused below).
    """
    match event:
        case Message(room, nick, text):
            line = f"[#{room}] <{nick}> {sanitize(text)}"
        case Private(recipient, sender, text):
            line = f"[@{recipient}] <{sender}> {sanitize(text)}"
        case Joined(room, nick):
            line = f"* {nick} joined #{room}"
        case Left(room, nick, reason):
            line = f"* {nick} left #{room}" + (f" ({sanitize(reason)})" if reason else "")
        case Renamed(old, new):
            line = f"* {old} is now {new}"
        case Welcome(nick, room):
            line = f"= welcome {nick} #{room}"
        case RoomList(total, rooms):
            line = f"= rooms {total}" + "".join(f" #{r}:{n}" for r, n in rooms)
        case WhoList(room, total, nicks):
            line = f"= who #{room} {total}" + "".join(f" {n}" for n in nicks)
        case HelpText(text):
            line = f"= help {sanitize(text)}"
        case Bye():
            line = "= bye"
        case Error(code, message):
            if code not in ERRORS:
                raise LocalProtocolError(ErrorCode.BAD_MESSAGE,
                                         f"error code {code!r} is not in chat's error table")
            line = f"! {code}: {sanitize(message)}"
    try:
        return encode_line(line)
    except ValueError:
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, "server line contains a newline") from None


def parse_server_line(line: str) -> ServerEvent:
    """What one server line means; anything else raises ``bad-message``."""
    for pattern, kind in _SERVER_LINES:
        match = pattern.fullmatch(line)
        if match is not None:
            return _build(kind, match.groups())
    raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"not a chat server line: {line[:80]!r}")


def _build(kind: str, groups: tuple[str | None, ...]) -> ServerEvent:
    g = [group or "" for group in groups]
    if kind == "message":
        return Message(g[0], g[1], g[2])
    if kind == "private":
        return Private(g[0], g[1], g[2])
    if kind == "joined":
        return Joined(g[1], g[0])
    if kind == "left":
        return Left(g[1], g[0], g[2])
    if kind == "renamed":
        return Renamed(g[0], g[1])
    if kind == "welcome":
        return Welcome(g[0], g[1])
    if kind == "rooms":
        pairs = [item.rsplit(":", 1) for item in g[1].split()]
        return RoomList(int(g[0]), tuple((room[1:], int(n)) for room, n in pairs))
    if kind == "who":
        return WhoList(g[0], int(g[1]), tuple(g[2].split()))
    if kind == "help":
        return HelpText(g[0])
    if kind == "bye":
        return Bye()
    return Error(LEGACY_CODES.get(g[0], g[0]), g[1])


def encode_client_event(event: ClientEvent) -> bytes:
    """The line that carries ``event`` from client to server."""
    match event:
        case Say(text):
            if not text.strip():
                raise LocalProtocolError(ErrorCode.BAD_MESSAGE, "a blank message is not sent")
            line = "/" + text if text.startswith("/") else text
        case SetNick(nick):
            _check_name(nick, "nickname")
            line = f"/nick {nick}"
        case Join(room):
            _check_name(room, "room name")
            line = f"/join {room}"
        case ListRooms():
            line = "/rooms"
        case Who():
            line = "/who"
        case Tell(nick, text):
            _check_name(nick, "nickname")
            if not text.strip():
                raise LocalProtocolError(ErrorCode.BAD_MESSAGE, "a blank message is not sent")
            line = f"/msg {nick} {text}"
        case Quit(reason):
            line = f"/quit {reason}" if reason else "/quit"
        case Help():
            line = "/help"
        case Invalid():
            raise LocalProtocolError(ErrorCode.BAD_STATE, "Invalid is a server-side event")
    try:
        return encode_line(line)
    except ValueError:
        raise LocalProtocolError(
            ErrorCode.BAD_MESSAGE, "a message cannot contain a newline"
        ) from None


def _check_name(name: str, what: str) -> None:
    if not is_name(name):
        raise LocalProtocolError(ErrorCode.BAD_MESSAGE, f"{name!r} is not a valid {what}")
