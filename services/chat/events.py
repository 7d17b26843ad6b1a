"""The chat protocol's events as small frozen dataclasses, and chat's error codes.

Client → server events are what a line from a client means (a message, a
command); server → client events are what a line from the server means. The
byte form of each is in :mod:`services.chat.codec` and ``docs/reference/protocol/chat.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.wire.errors import ErrorCode, ErrorSpec, error_table


class ChatCode(enum.StrEnum):
    """Error codes of the chat service, in addition to the wire layer's codes."""

    UNKNOWN_COMMAND = "unknown-command"
    BAD_ARGUMENTS = "bad-arguments"
    BAD_NICK = "bad-nick"
    NICK_TAKEN = "nick-taken"
    BAD_ROOM = "bad-room"
    NO_SUCH_NICK = "no-such-nick"
    BUSY = "busy"  # the same code as exec's and upload's (it was server-full)
    IDLE_TIMEOUT = "idle-timeout"
    SLOW_CONSUMER = "slow-consumer"
    SHUTTING_DOWN = "shutting-down"  # the same code as exec's and upload's (was server-shutdown)
    KICKED = "kicked"
    TOO_MANY_ERRORS = "too-many-errors"


# Every code a chat server sends in ``! CODE: MESSAGE``; ``fatal``: the
# server closes the connection after that line.
ERRORS = error_table((
    ErrorSpec(ErrorCode.LINE_TOO_LONG, False,
              "a line longer than --max-line bytes (the line is refused, up to its newline)"),
    ErrorSpec(ErrorCode.BAD_ENCODING, False,
              "a line that is not UTF-8 (a classic client is closed instead, without a line)"),
    ErrorSpec(ErrorCode.BAD_PREFACE, True,
              "the first byte is NUL but chat's preface does not follow"),
    ErrorSpec(ChatCode.UNKNOWN_COMMAND, False, "a /word that is not a command"),
    ErrorSpec(ChatCode.BAD_ARGUMENTS, False, "a command with missing or extra arguments"),
    ErrorSpec(ChatCode.BAD_NICK, False, "/nick with an invalid or reserved nickname"),
    ErrorSpec(ChatCode.NICK_TAKEN, False, "/nick with a nickname another client has"),
    ErrorSpec(ChatCode.BAD_ROOM, False, "/join with an invalid room name"),
    ErrorSpec(ChatCode.NO_SUCH_NICK, False, "/msg to a nickname nobody has"),
    ErrorSpec(ChatCode.BUSY, True, "on accept past --max-clients, before the client sent anything"),
    ErrorSpec(ChatCode.IDLE_TIMEOUT, True, "nothing received for --idle-timeout seconds"),
    ErrorSpec(ChatCode.SLOW_CONSUMER, True, "the client's queue of unsent lines overflowed"),
    ErrorSpec(ChatCode.KICKED, True, "the operator's /kick, with the operator's reason"),
    ErrorSpec(ChatCode.TOO_MANY_ERRORS, True,
              "more than --max-errors refused lines in a burst (one more allowed each second)"),
    ErrorSpec(ChatCode.SHUTTING_DOWN, True, "SIGTERM, SIGINT or the console's /shutdown"),
))
# The codes these had before they were the same as exec's and upload's: a client
# reads them as their new names (a server of an older netlab may send them).
LEGACY_CODES = {"server-full": ChatCode.BUSY, "server-shutdown": ChatCode.SHUTTING_DOWN}


# -- client → server -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """A message to everyone else in the sender's current room."""

    text: str


@dataclass(frozen=True, slots=True)
class SetNick:
    """``/nick NAME``: change nickname."""

    nick: str


@dataclass(frozen=True, slots=True)
class Join:
    """``/join ROOM``: leave the current room for ``room`` (created if new)."""

    room: str


@dataclass(frozen=True, slots=True)
class ListRooms:
    """``/rooms``: ask for the rooms and their sizes."""


@dataclass(frozen=True, slots=True)
class Who:
    """``/who``: ask who is in the current room."""


@dataclass(frozen=True, slots=True)
class Tell:
    """``/msg NICK TEXT``: a private message to one client (or ``operator``)."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Quit:
    """``/quit [REASON]``: leave; the server answers ``= bye`` and closes."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Help:
    """``/help``: ask for the command summary."""


@dataclass(frozen=True, slots=True)
class Invalid:
    """A well-formed line the server cannot act on (unknown command, bad arguments).

    Not an exception: the line was valid on the wire, the connection goes on,
    and the server answers with an error line carrying ``code``.
    """

    code: ChatCode
    message: str


ClientEvent = Say | SetNick | Join | ListRooms | Who | Tell | Quit | Help | Invalid


# -- server → client -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    """First line once the mode is known: the nickname and room assigned."""

    nick: str
    room: str


@dataclass(frozen=True, slots=True)
class Message:
    """``nick`` said ``text`` in ``room``."""

    room: str
    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class Private:
    """``sender`` told ``recipient`` ``text`` (also echoed to the sender)."""

    recipient: str
    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Joined:
    """``nick`` entered ``room`` (sent to the room, the newcomer included)."""

    room: str
    nick: str


@dataclass(frozen=True, slots=True)
class Left:
    """``nick`` left ``room``; ``reason`` says why (``quit``, ``join``, ``slow-consumer``...)."""

    room: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Renamed:
    """``old`` is now called ``new`` (sent to the room, the renamed client included)."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class RoomList:
    """Answer to ``/rooms``: ``total`` rooms, the first of them with their sizes."""

    total: int
    rooms: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class WhoList:
    """Answer to ``/who``: ``total`` members of ``room``, the first of their nicks."""

    room: str
    total: int
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HelpText:
    """Answer to ``/help``."""

    text: str


@dataclass(frozen=True, slots=True)
class Bye:
    """Answer to ``/quit``; the server closes after it."""


@dataclass(frozen=True, slots=True)
class Error:
    """``code`` is a wire-layer code (``line-too-long``...) or a :class:`ChatCode`."""

    code: str
    message: str


ServerEvent = (
    Welcome | Message | Private | Joined | Left | Renamed | RoomList | WhoList | HelpText
    | Bye | Error
)
