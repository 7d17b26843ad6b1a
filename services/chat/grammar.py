"""What a nickname, a room name and message text may be (shared by both sides).

Names are short ASCII so that every line form stays unambiguous: a nick or a
room never contains a space, ``<``, ``>``, ``[``, ``]``, ``:`` or ``#``.
Message text is any UTF-8 without a line break; control characters other than
TAB are replaced by U+FFFD so one client cannot drive another's terminal with
escape sequences.
"""

from __future__ import annotations

import re

MAX_NAME = 24
NAME_PATTERN = rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_NAME - 1}}}"
_NAME = re.compile(NAME_PATTERN)
# Names the server uses for itself; no client may take them.
RESERVED_NICKS = frozenset({"operator", "server"})
DEFAULT_ROOM = "lobby"
GUEST_PREFIX = "guest-"

_CONTROLS = {code: "\ufffd" for code in [*range(0x20), 0x7F] if code != 0x09}


def is_name(text: str) -> bool:
    """True if ``text`` is a valid nickname or room name (``#`` not included)."""
    return _NAME.fullmatch(text) is not None


def room_name(text: str) -> str | None:
    """The room ``text`` names (``#dev`` or ``dev`` → ``dev``), or None if invalid."""
    name = text[1:] if text.startswith("#") else text
    return name if is_name(name) else None


def sanitize(text: str) -> str:
    """``text`` with control characters (TAB excepted) replaced by U+FFFD."""
    return text.translate(_CONTROLS)
