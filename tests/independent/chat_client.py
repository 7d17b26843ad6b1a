"""A chat client written from docs/reference/protocol/chat.md (and the overview) alone.

Every line the server sends is parsed by the reference's grammar and
checked against its rules (UTF-8, sanitized, not longer than a client must
accept); anything else raises :class:`~tests.independent.wire.Violation`.
Blocking sockets, as a user's own client would be.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from tests.independent.wire import Closed, Peer, Violation, preface

NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,23}"
COUNT = r"(?:0|[1-9][0-9]{0,8})"
CODE = r"[a-z][a-z-]{0,31}"
TEXT = r"(?P<text>.*)"
GRAMMAR = {
    "message": rf"\[#(?P<room>{NAME})\] <(?P<nick>{NAME})> {TEXT}",
    "private": rf"\[@(?P<to>{NAME})\] <(?P<nick>{NAME})> {TEXT}",
    "joined": rf"\* (?P<nick>{NAME}) joined #(?P<room>{NAME})",
    "left": rf"\* (?P<nick>{NAME}) left #(?P<room>{NAME})(?: \((?P<reason>.+)\))?",
    "renamed": rf"\* (?P<old>{NAME}) is now (?P<new>{NAME})",
    "welcome": rf"= welcome (?P<nick>{NAME}) #(?P<room>{NAME})",
    "rooms": rf"= rooms (?P<total>{COUNT})(?P<rooms>(?: #{NAME}:{COUNT})*)",
    "who": rf"= who #(?P<room>{NAME}) (?P<total>{COUNT})(?P<nicks>(?: {NAME})*)",
    "help": r"= help (?P<text>.+)",
    "bye": r"= bye",
    "error": rf"! (?P<code>{CODE}): (?P<text>.*)",
}
PATTERNS = {kind: re.compile(pattern) for kind, pattern in GRAMMAR.items()}
# Replaced by U+FFFD in every server line: C0 but TAB, DEL, C1, bidi controls, U+2028/9.
UNSANITIZED = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         "\u2066-\u2069\u2028\u2029]")
DEFAULT_MAX_LINE = 2048


def longest_server_line(max_line: int = DEFAULT_MAX_LINE) -> int:
    """What a client MUST accept: ``3 × max(--max-line, 4096) + 64`` bytes."""
    return 3 * max(max_line, 4096) + 64


@dataclass(frozen=True)
class Line:
    """One server line: its kind (the grammar's rule) and its named parts."""

    kind: str
    parts: dict[str, str]
    raw: str

    def __getitem__(self, name: str) -> str:
        return self.parts[name]


def parse(raw: bytes) -> Line:
    """A server line (without its LF) by the grammar; a Violation if it matches no rule."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Violation(f"a server line that is not UTF-8: {raw!r}") from None
    if UNSANITIZED.search(text):
        raise Violation(f"a server line with an unsanitized character: {text!r}")
    for kind, pattern in PATTERNS.items():
        found = pattern.fullmatch(text)
        if found:
            parts = {k: v for k, v in found.groupdict().items() if v is not None}
            return Line(kind, parts, text)
    raise Violation(f"a server line outside the grammar: {text!r}")


class ChatClient:
    """One chat connection, netlab mode (the preface) or line mode (none)."""

    def __init__(self, host: str, port: int, *, netlab: bool = True, timeout: float = 10.0,
                 max_line: int = DEFAULT_MAX_LINE) -> None:
        self.peer = Peer(host, port, timeout=timeout)
        self.limit = longest_server_line(max_line)
        self.lines: list[Line] = []  # every line received, in order
        self._unread: list[Line] = []
        self.nick = ""
        self.room = ""
        if netlab:
            self.peer.send(preface("chat"))

    def close(self) -> None:
        self.peer.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, line: str | bytes) -> None:
        """One client line: UTF-8 text (or raw bytes), LF added."""
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.peer.send(data + b"\n")

    def next(self) -> Line:
        """The next server line (:class:`Closed` once the server has closed)."""
        if self._unread:
            return self._unread.pop(0)
        line = parse(self.peer.read_line(self.limit))
        self.lines.append(line)
        if line.kind == "welcome":
            self.nick, self.room = line["nick"], line["room"]
        elif line.kind == "renamed" and line["old"] == self.nick:
            self.nick = line["new"]
        elif line.kind == "joined" and line["nick"] == self.nick:
            self.room = line["room"]
        return line

    def until(self, kind: str, *, timeout: float = 10.0, **parts: str) -> Line:
        """The first line of ``kind`` whose parts have these values; the lines before it stay
        unread (for :meth:`until` and :meth:`next` to find)."""
        deadline = time.monotonic() + timeout
        skipped: list[Line] = []
        try:
            while time.monotonic() < deadline:
                line = self.next()
                if line.kind == kind and all(line.parts.get(k) == v for k, v in parts.items()):
                    return line
                skipped.append(line)
        finally:
            self._unread = skipped + self._unread
        raise AssertionError(f"no {kind} {parts} within {timeout} s; got {skipped}")

    def welcome(self) -> Line:
        """Wait for ``= welcome`` (room messages may come before it)."""
        return self.until("welcome")

    def ends(self) -> bool:
        """The server closes the connection (after whatever lines are left)."""
        try:
            while True:
                self.next()
        except Closed:
            return True
