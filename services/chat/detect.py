"""Telling chat's three kinds of client apart on one port, sans-IO (time is an argument).

Theory of operation. Every client speaks first, and the server sends no
reply, welcome or notice until it knows which kind it is talking to (only
the room's messages, plain lines every kind of client can take; see
:mod:`services.chat.directory`):

* first byte ``0x00`` → **netlab** mode: the netlab preface
  (``\\0netlab/1 chat\\n``) must follow; the rest is line protocol;
* a ``\\n`` among the bytes received within ``window`` seconds of the first
  byte → **line** mode (``nc``, ``telnet``: a person pressed Enter, and those
  tools send the whole line, newline included, at once);
* no ``\\n`` within ``window`` → **classic** mode: the tutorial's client sent
  one message with one ``send`` and no newline, and now waits for a reply.
  What arrived is its first message.

More than ``max_line`` bytes without a newline is line mode too (the line is
then refused as too long), so detection never buffers more than that. EOF
before a decision: buffered bytes are a last line (line mode), no bytes means
the client left without speaking.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.wire.preface import Sniff, sniff

DEFAULT_WINDOW = 0.3
SERVICE = "chat"


class Mode(enum.Enum):
    """What kind of client is on a connection."""

    NETLAB = "netlab"
    LINE = "line"
    CLASSIC = "classic"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Detected:
    """The decision and the bytes received after the preface (or all of them)."""

    mode: Mode
    data: bytes


class ModeDetector:
    """Feed it what arrives with the time it arrived; ask ``decide(now)``.

    ``deadline`` says until when the caller should wait for more bytes before
    calling ``decide`` again (None: no deadline yet, wait for the first byte).
    A bad preface raises ``bad-preface`` from ``receive_data``.
    """

    # One per client waiting for its first byte (there may be thousands).
    __slots__ = ("_buffer", "_eof", "_first_at", "_netlab_consumed", "max_line", "window")

    def __init__(self, *, window: float = DEFAULT_WINDOW, max_line: int = 2048) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self.max_line = max_line
        self._buffer = bytearray()
        self._first_at: float | None = None
        self._eof = False
        self._netlab_consumed: int | None = None

    @property
    def deadline(self) -> float | None:
        if self._first_at is None or self._buffer[:1] == b"\x00":
            return None
        return self._first_at + self.window

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes (``b""`` at EOF) received at time ``now``."""
        if not data:
            self._eof = True
            return
        if self._first_at is None:
            self._first_at = now
        self._buffer += data
        if self._buffer[:1] == b"\x00" and self._netlab_consumed is None:
            result, consumed = sniff(bytes(self._buffer), SERVICE)  # raises bad-preface
            if result is Sniff.NETLAB:
                self._netlab_consumed = consumed

    def decide(self, now: float) -> Detected | None:
        """The mode if it is known at ``now``, else None (wait for data or the deadline)."""
        if self._netlab_consumed is not None:
            return Detected(Mode.NETLAB, bytes(self._buffer[self._netlab_consumed:]))
        if not self._buffer:
            return Detected(Mode.CLOSED, b"") if self._eof else None
        if self._buffer[:1] == b"\x00":
            # An incomplete preface; at EOF it can never complete.
            return Detected(Mode.CLOSED, b"") if self._eof else None
        if b"\n" in self._buffer or len(self._buffer) > self.max_line or self._eof:
            return Detected(Mode.LINE, bytes(self._buffer))
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            return Detected(Mode.CLASSIC, bytes(self._buffer))
        return None
