"""What a capture shows, connection by connection: pure, from segments to a summary.

:func:`summarize` groups TCP segments (``lab.capture.pcap.Segment``) into
connections and says, for each:

- who is the client (the side that sent the first SYN; in a capture that
  starts mid-connection, the side that is not on ``server_port``, else the
  side with the higher port);
- the handshake: when the SYN, the SYN-ACK and the client's ACK passed, and
  how long it took;
- what each side sent: new payload bytes (a retransmitted byte counts once;
  a retransmission is counted apart), segments, FINs, RSTs, and zero-window
  advertisements (the receiver's buffer was full: back-pressure);
- how it ended: the FINs and RSTs in the order they came (``client FIN``
  alone is a half-close; nothing at all, a connection still open when the
  capture stopped);
- delayed ACKs: a data segment whose first acknowledgement was a bare ACK
  (no data of its own) that came ``delayed_ack`` seconds or more after it
  (30 ms by default: Linux delays an ACK 40 ms at least), while its sender
  sent nothing more. ``held`` says that the sender's next data went out as
  soon as that ACK arrived: it had been waiting for it, which is Nagle's
  algorithm meeting a delayed ACK (the 40 ms stall of write-write-read).

Times are seconds from the capture's first segment. Sequence numbers are
relative to each side's first (the SYN's, when it was seen) and unwrapped,
so a connection may carry more than 4 GiB.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lab.capture.pcap import ACK, FIN, RST, SYN, Endpoint, Segment

Side = Literal["client", "server"]
Close = Literal["FIN", "RST"]
DELAYED_ACK = 0.030  # seconds: an ACK this late after data is a delayed one
HOLD = 0.005  # seconds: data this soon after the ACK it waited for was held back by it
SEQ_SPACE = 1 << 32


@dataclass(frozen=True)
class Handshake:
    """When the three segments of the handshake passed (``None``: not in the capture)."""

    syn: float | None = None
    syn_ack: float | None = None
    ack: float | None = None

    @property
    def complete(self) -> bool:
        return None not in (self.syn, self.syn_ack, self.ack)

    @property
    def seconds(self) -> float | None:
        """From the SYN to the client's ACK: what ``connect()`` waited (seen from here)."""
        if self.syn is None or self.ack is None or self.syn_ack is None:
            return None
        return self.ack - self.syn


@dataclass(frozen=True)
class Sent:
    """What one side of a connection sent."""

    payload: int = 0  # new data bytes
    segments: int = 0
    data_segments: int = 0
    retransmits: int = 0  # data segments that carried nothing new
    fin: int = 0
    rst: int = 0
    zero_windows: int = 0  # segments advertising a window of 0: its receive buffer was full


@dataclass(frozen=True)
class DelayedAck:
    """A data segment of ``sender`` acknowledged ``delay`` seconds late by a bare ACK."""

    sender: Side
    sent: float  # when the data segment passed
    delay: float  # until the ACK
    size: int  # its payload bytes
    held: bool  # the sender's next data followed the ACK at once: it had waited for it


@dataclass(frozen=True)
class Connection:
    """One TCP connection as the capture saw it."""

    client: Endpoint
    server: Endpoint
    start: float
    end: float
    handshake: Handshake
    by_client: Sent
    by_server: Sent
    closes: tuple[tuple[Side, Close], ...]  # first FIN or RST of each side, in order
    delayed_acks: tuple[DelayedAck, ...]

    def sent(self, side: Side) -> Sent:
        return self.by_client if side == "client" else self.by_server

    @property
    def ending(self) -> str:
        """How it ended: ``client FIN, server FIN``, ``server RST``, ``open``..."""
        return ", ".join(f"{side} {kind}" for side, kind in self.closes) or "open"

    @property
    def held_acks(self) -> int:
        """Delayed ACKs that held the sender's next data back (Nagle + delayed ACK)."""
        return sum(1 for gap in self.delayed_acks if gap.held)


@dataclass(frozen=True)
class Summary:
    """Every connection of a capture, in the order their first segments came."""

    connections: tuple[Connection, ...]
    segments: int
    duration: float
    started: float | None  # the first segment's time on the capture's clock (epoch seconds)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: endpoints as ``HOST:PORT``, each connection's ``ending``."""
        data = asdict(self)
        for raw, connection in zip(data["connections"], self.connections, strict=True):
            raw["client"], raw["server"] = str(connection.client), str(connection.server)
            raw["ending"] = connection.ending
            raw["handshake"]["seconds"] = connection.handshake.seconds
        return data


def _unwrap(value: int, reference: int) -> int:
    """``value`` (mod 2**32) as the integer nearest ``reference``."""
    return reference + ((value - reference + SEQ_SPACE // 2) % SEQ_SPACE) - SEQ_SPACE // 2


@dataclass
class _LastData:
    time: float
    end: int
    size: int
    fin: bool
    judged: bool = False  # a delayed ACK was looked for already


@dataclass
class _Side:
    """One side's running state: its sequence space and what the peer acknowledged of it."""

    base: int | None = None  # sequence number of its first data byte
    highest: int = 0  # relative end of the data sent so far
    acked: int = 0  # relative point the peer acknowledged
    payload: int = 0
    segments: int = 0
    data_segments: int = 0
    retransmits: int = 0
    fin_seqs: set[int] = field(default_factory=set)
    rst: int = 0
    zero_windows: int = 0
    last: _LastData | None = None
    waiting: list[tuple[int, float]] = field(default_factory=list)  # (gap index, ACK time)

    def frozen(self) -> Sent:
        return Sent(self.payload, self.segments, self.data_segments, self.retransmits,
                    len(self.fin_seqs), self.rst, self.zero_windows)


class _Tracker:
    """Builds one :class:`Connection` from its segments."""

    def __init__(self, client: Endpoint, server: Endpoint, start: float, threshold: float) -> None:
        self.client, self.server = client, server
        self.start = self.end = start
        self.threshold = threshold
        self.sides: dict[Side, _Side] = {"client": _Side(), "server": _Side()}
        self.syn_seq: int | None = None
        self.syn: float | None = None
        self.syn_ack: float | None = None
        self.ack: float | None = None
        self.closes: list[tuple[Side, Close]] = []
        self.gaps: list[DelayedAck] = []

    def add(self, segment: Segment, time: float) -> None:
        side: Side = "client" if segment.src == self.client else "server"
        me, peer = self.sides[side], self.sides["server" if side == "client" else "client"]
        self.end = time
        me.segments += 1
        self._handshake(segment, side, time)
        if segment.has(SYN):
            me.base = (segment.seq + 1) % SEQ_SPACE
        elif me.base is None:
            me.base = segment.seq
        if segment.payload:
            self._data(segment, side, me, time)
        if segment.has(FIN):
            me.fin_seqs.add((segment.seq + segment.payload) % SEQ_SPACE)
            self._closed(side, "FIN")
        if segment.has(RST):
            me.rst += 1
            self._closed(side, "RST")
        elif segment.window == 0 and not segment.has(SYN):
            me.zero_windows += 1
        if segment.has(ACK) and peer.base is not None:
            self._acknowledged(segment, "server" if side == "client" else "client", peer, time)

    def _handshake(self, segment: Segment, side: Side, time: float) -> None:
        if segment.has(SYN) and not segment.has(ACK) and self.syn is None:
            self.syn, self.syn_seq = time, segment.seq
        elif segment.has(SYN) and segment.has(ACK) and self.syn_ack is None:
            self.syn_ack = time
        elif (side == "client" and segment.has(ACK) and not segment.has(SYN)
              and self.syn_ack is not None and self.ack is None):
            self.ack = time

    def _closed(self, side: Side, kind: Close) -> None:
        if (side, kind) not in self.closes:
            self.closes.append((side, kind))

    def _data(self, segment: Segment, side: Side, me: _Side, time: float) -> None:
        assert me.base is not None
        start = _unwrap((segment.seq - me.base) % SEQ_SPACE, me.highest)
        end = start + segment.payload
        me.data_segments += 1
        if end <= me.highest:
            me.retransmits += 1
            return
        me.payload += end - max(start, me.highest)
        me.highest = end
        me.last = _LastData(time, end, segment.payload, segment.has(FIN))
        for index, acked_at in me.waiting:  # was this data waiting for that ACK?
            gap = self.gaps[index]
            held = time - acked_at <= HOLD
            self.gaps[index] = DelayedAck(gap.sender, gap.sent, gap.delay, gap.size, held)
        me.waiting.clear()

    def _acknowledged(self, segment: Segment, sender: Side, data_side: _Side,
                      time: float) -> None:
        assert data_side.base is not None
        acked = _unwrap((segment.ack - data_side.base) % SEQ_SPACE, data_side.acked)
        if acked <= data_side.acked:
            return
        before, data_side.acked = data_side.acked, acked
        last = data_side.last
        if last is None or last.judged or last.fin or not before < last.end <= acked:
            return
        last.judged = True
        bare = segment.payload == 0 and not segment.flags & (SYN | FIN | RST)
        if bare and time - last.time >= self.threshold:
            self.gaps.append(DelayedAck(sender, last.time, time - last.time, last.size, False))
            data_side.waiting.append((len(self.gaps) - 1, time))

    def connection(self, origin: float) -> Connection:
        def rel(value: float | None) -> float | None:
            return None if value is None else value - origin

        gaps = tuple(DelayedAck(g.sender, g.sent - origin, g.delay, g.size, g.held)
                     for g in self.gaps)
        return Connection(
            client=self.client, server=self.server, start=self.start - origin,
            end=self.end - origin,
            handshake=Handshake(rel(self.syn), rel(self.syn_ack), rel(self.ack)),
            by_client=self.sides["client"].frozen(), by_server=self.sides["server"].frozen(),
            closes=tuple(self.closes), delayed_acks=gaps)


def _roles(segment: Segment, server_port: int | None) -> tuple[Endpoint, Endpoint]:
    """(client, server) of a connection first seen at ``segment``."""
    if segment.has(SYN):
        return ((segment.src, segment.dst) if not segment.has(ACK)
                else (segment.dst, segment.src))
    if server_port is not None and server_port in (segment.src.port, segment.dst.port):
        return ((segment.dst, segment.src) if segment.src.port == server_port
                else (segment.src, segment.dst))
    return ((segment.src, segment.dst) if segment.src.port > segment.dst.port
            else (segment.dst, segment.src))


def summarize(segments: Iterable[Segment], *, server_port: int | None = None,
              delayed_ack: float = DELAYED_ACK) -> Summary:
    """The connections of ``segments`` (in capture order) and what each shows."""
    trackers: list[_Tracker] = []
    current: dict[frozenset[Endpoint], _Tracker] = {}
    count, first, last = 0, None, None
    for segment in segments:
        count += 1
        first = segment.time if first is None else first
        last = segment.time
        key = frozenset((segment.src, segment.dst))
        tracker = current.get(key)
        fresh_syn = segment.has(SYN) and not segment.has(ACK)
        if tracker is None or (fresh_syn and tracker.syn_seq != segment.seq):
            client, server = _roles(segment, server_port)
            tracker = _Tracker(client, server, segment.time, delayed_ack)
            trackers.append(tracker)
            current[key] = tracker
        tracker.add(segment, segment.time)
    origin = first or 0.0
    return Summary(
        connections=tuple(t.connection(origin) for t in trackers), segments=count,
        duration=(last - origin) if last is not None else 0.0, started=first)
