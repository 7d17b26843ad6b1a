"""What a nickname, a room name and message text may be (shared by both sides).

Names are short ASCII so that every line form stays unambiguous: a nick or a
room never contains a space, ``<``, ``>``, ``[``, ``]``, ``:`` or ``#``.
Two names that differ only in case are the same name (:func:`nick_key`); the
server's own names, and names that look like them, are reserved
(:func:`is_reserved_nick`).

Message text is any UTF-8 without a line break. :func:`sanitize` replaces,
each by one U+FFFD, every character that can drive or rewrite what another
person's terminal shows: C0 controls but TAB, DEL, C1 controls (``U+009B`` is
a CSI on many terminals), the bidirectional marks, embeddings, overrides and
isolates (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, which make
text display in another order than it was typed) and the Unicode line and
paragraph separators (U+2028, U+2029). U+FFFD rather than a visible escape
such as ``\\x1b``: one character for one, so no line grows past its limit,
and a reader sees that something was removed. Other format characters
(zero-width joiners in emoji, soft hyphens) are kept.
"""

from __future__ import annotations

import re

MAX_NAME = 24
NAME_PATTERN = rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_NAME - 1}}}"
_NAME = re.compile(NAME_PATTERN)
# Names the server uses for itself; no client may take them or a look-alike.
RESERVED_NICKS = frozenset({"operator", "server"})
DEFAULT_ROOM = "lobby"
GUEST_PREFIX = "guest-"
# The server's provisional nicks (guest-1, guest-2...): no client may pick one.
_GUEST = re.compile(rf"{re.escape(GUEST_PREFIX)}[0-9]+", re.IGNORECASE)

REPLACEMENT = "\ufffd"
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SEPARATORS = [0x2028, 0x2029]
_UNSAFE = [*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI, *_SEPARATORS]
_REPLACE = {code: REPLACEMENT for code in _UNSAFE if code != 0x09}

# Characters a reader takes for one another in a nick: case, digits that look
# like letters, and the separators, which are easy to miss.
_SKELETON = str.maketrans({"0": "o", "1": "i", "l": "i", "3": "e", "5": "s", "_": None,
                           ".": None, "-": None})
_RESERVED_SKELETONS = frozenset(name.translate(_SKELETON) for name in RESERVED_NICKS)


def is_name(text: str) -> bool:
    """True if ``text`` is a valid nickname or room name (``#`` not included)."""
    return _NAME.fullmatch(text) is not None


def room_name(text: str) -> str | None:
    """The room ``text`` names (``#dev`` or ``dev`` → ``dev``), or None if invalid."""
    name = text[1:] if text.startswith("#") else text
    return name if is_name(name) else None


def nick_key(nick: str) -> str:
    """The form nicks are compared in: ``Alice`` and ``alice`` are one nick."""
    return nick.lower()


def is_reserved_nick(nick: str) -> bool:
    """True for the server's names, names that look like them (``0perator``), and ``guest-N``."""
    if _GUEST.fullmatch(nick):
        return True
    return nick_key(nick).translate(_SKELETON) in _RESERVED_SKELETONS


def sanitize(text: str) -> str:
    """``text`` with each terminal-driving character (see the module) replaced by U+FFFD."""
    if text.isprintable():  # fast path: every replaced character is non-printable
        return text
    return text.translate(_REPLACE)
