"""The chat loads' lines, sans-IO: greeting each server, the bench's messages, checking them.

Every chat server the bench drives (netlab's, the threaded and the asyncio
baselines) relays a line of text to others with something in front of it
(``[#lobby] <c3> ``, ``c3: ``); the bench's lines carry everything a
receiver needs after that prefix, so one parser serves every server:

* ``%m SENDER SEQ SENT_NS``: a message (``SENT_NS``: the sender's
  ``time.monotonic_ns()``; every client of one load runs in one process);
* ``%s SENDER``: a barrier line, sent until every client has heard every
  other one (then every client is registered, and every later message
  reaches everyone);
* ``%p SEQ SENT_NS`` / ``%q SEQ SENT_NS``: a round trip's ping and its echo.

How a client greets a server is its :class:`Dialect`: netlab mode (the
preface), line mode (nothing), or ``nick`` (the baselines: the first line is
the nickname, and a client receives nothing until it has sent one).

An :class:`Inbox` is one client's receiving side: ``feed(chunk, now_ns)``
with what each read returned. A checking inbox parses every message (order
per sender, latency); a counting one only counts them, at C speed, so that a
load of a million deliveries a second is not bounded by its own parsing.
"""

from __future__ import annotations

import enum
import math
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.wire.preface import encode_preface

MESSAGE_MARK = b"%m "
SYNC_MARK = b"%s "
MESSAGE = re.compile(rb"%m (\d+) (\d+) (\d+)")
SYNC = re.compile(rb"%s (\d+)")
PING = re.compile(rb"%p (\d+) (\d+)")
ECHO = re.compile(rb"%q (\d+) (\d+)")


class Dialect(enum.Enum):
    """How a client greets a chat server."""

    NETLAB = "netlab"  # netlab mode: the preface, then lines
    LINE = "line"  # netlab's line mode: lines from the first byte
    NICK = "nick"  # the baselines: the first line is the nickname

    def hello(self, nick: str, room: str | None = None) -> bytes:
        """The bytes a client sends first; ``room``: join it (netlab only)."""
        if self is Dialect.NICK:
            return f"{nick}\n".encode()
        data = encode_preface("chat") if self is Dialect.NETLAB else b""
        if room is not None:
            data += f"/join {room}\n".encode()
        return data


def message(sender: int, seq: int, sent_ns: int) -> bytes:
    return b"%%m %d %d %d\n" % (sender, seq, sent_ns)


def sync(sender: int) -> bytes:
    return b"%%s %d\n" % sender


def ping(seq: int, sent_ns: int) -> bytes:
    return b"%%p %d %d\n" % (seq, sent_ns)


def echo(seq: int, sent_ns: int) -> bytes:
    return b"%%q %d %d\n" % (seq, sent_ns)


class Inbox:
    """One client's receiving side: messages counted (or checked), barrier lines noted.

    ``check``: parse every message: per sender, a message whose sequence
    number is below one already seen is *reordered* (a late or repeated
    line); each message's latency (receive time minus send time, in µs) is
    kept when ``latency`` is set. Without ``check`` messages are counted only.
    """

    def __init__(self, me: int, clients: int, *, check: bool = True,
                 latency: bool = True) -> None:
        self.me = me
        self.check = check
        self.latency = latency
        self.received = 0
        self.reordered = 0
        self.latencies_us: array[int] = array("q")
        self.synced: set[int] = set()
        self._next = [0] * clients
        self._tail = b""

    def progress(self, sender: int) -> int:
        """One past the highest sequence number seen from ``sender`` (checking inboxes)."""
        return self._next[sender]

    def feed(self, data: bytes, now_ns: int) -> bytes:
        """Take one read; returns the complete lines of it (and of what was left before)."""
        buffer = self._tail + data if self._tail else data
        end = buffer.rfind(b"\n") + 1
        self._tail = buffer[end:]
        if not end:
            return b""
        lines = buffer[:end] if end < len(buffer) else buffer
        if SYNC_MARK in lines:
            self.synced.update(int(sender) for sender in SYNC.findall(lines))
        if not self.check:
            self.received += lines.count(MESSAGE_MARK)
            return lines
        expected = self._next
        keep = self.latencies_us if self.latency else None
        found = MESSAGE.findall(lines)
        self.received += len(found)
        for sender_text, seq_text, sent_text in found:
            sender, seq = int(sender_text), int(seq_text)
            if seq >= expected[sender]:
                expected[sender] = seq + 1
            else:
                self.reordered += 1
            if keep is not None:
                keep.append((now_ns - int(sent_text)) // 1000)
        return lines


@dataclass(frozen=True)
class Tally:
    """What the receivers of one load saw, against what the senders sent."""

    expected: int
    received: int
    reordered: int

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)


def expected_deliveries(sent: Sequence[int]) -> int:
    """Deliveries a broadcast to every other client owes: each message, to each other client."""
    return sum(sent) * (len(sent) - 1)


def percentiles(samples_us: Iterable[int], points: Sequence[float] = (50, 99)
                ) -> dict[str, float]:
    """``{"p50": ms, "p99": ms, "max": ms}`` (nearest rank) of samples in µs; nan if none."""
    ordered = sorted(samples_us)
    found: dict[str, float] = {}
    for point in points:
        if not ordered:
            found[f"p{point:g}"] = math.nan
            continue
        rank = max(1, math.ceil(point / 100 * len(ordered)))
        found[f"p{point:g}"] = round(ordered[rank - 1] / 1000, 3)
    found["max"] = round(ordered[-1] / 1000, 3) if ordered else math.nan
    return found
