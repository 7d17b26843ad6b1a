"""Toxics: stream faults as small value objects, one concept each (model: toxiproxy).

A :class:`Toxic` is what a user asks for: its kind, attributes, ``stream``
(``upstream``: client to server, ``downstream``: server to client, or
``both``), ``toxicity`` (the probability that it applies to a connection)
and ``connection`` (one connection's id, or ``None`` for all). It holds no
state; :meth:`Toxic.stage` makes the :class:`Stage` that does the work for
one direction of one connection, given that direction's :class:`Link`.

A stage's ``pipe(chunk, send)`` moves one chunk on (later, in pieces, or not
at all); its ``flush(send)`` runs at EOF, before the FIN is passed on, and
when its toxic is removed (so what it held goes on before the next chunk).
Both are called with the direction's ``lock`` held; a stage's own timer
task takes the lock before it sends.
Times are in milliseconds, as in toxiproxy's API; sizes in bytes.

Randomness comes only from the link's ``rng`` (a seeded ``random.Random``),
so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import trio

from lab.relay import Send

Stream = Literal["upstream", "downstream", "both"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream", "both")
LATENCY_BUFFER = 1 << 20
"""Bytes a latency stage holds in flight before the relay waits (back-pressure)."""


@dataclass
class Link:
    """What a stage may use of its connection's direction.

    ``lock`` serialises the direction's sends (a timer's flush against the
    relay's chunks); ``start_soon`` runs a timer in the connection's nursery,
    cancelled when the connection ends; ``close`` and ``reset`` end the
    connection (FIN, or RST via SO_LINGER 0 on both sides).
    """

    rng: random.Random
    lock: trio.Lock
    start_soon: Callable[..., object]
    close: Callable[[str], None]
    reset: Callable[[str], None]


class Stage:
    """One toxic at work on one direction of one connection; by default it passes all."""

    def __init__(self) -> None:
        self.retired = trio.Event()  # set when its toxic is removed

    def retire(self) -> None:
        """Its toxic was removed: end what it holds back (the chain flushes it next)."""
        self.retired.set()

    async def pipe(self, chunk: bytes, send: Send) -> None:
        await send(chunk)

    async def flush(self, send: Send) -> None:
        return None


def _seconds(ms: float) -> float:
    return ms / 1000.0


@dataclass(frozen=True, kw_only=True)
class Toxic:
    """A stream fault; subclasses add their attributes and their stage."""

    kind: ClassVar[str] = "noop"
    name: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    connection: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a toxic needs a name")
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)}")
        if not 0.0 <= self.toxicity <= 1.0:
            raise ValueError("toxicity must be between 0 and 1")
        for key, value in self.attributes().items():
            if value < 0:
                raise ValueError(f"{key} must not be negative")

    def attributes(self) -> dict[str, Any]:
        """The kind's own settings (what toxiproxy calls ``attributes``)."""
        base = {"name", "stream", "toxicity", "connection"}
        return {k: v for k, v in vars(self).items() if k not in base}

    def applies_to(self, upward: bool) -> bool:
        return self.stream == "both" or self.stream == ("upstream" if upward else "downstream")

    def stage(self, link: Link) -> Stage:
        return Stage()


class _Latency(Stage):
    """Each chunk waits its own delay from its arrival: a pipeline, not a queue of sleeps.

    A burst of chunks arriving together leaves together, ``latency`` later,
    in order (a chunk whose jitter would let it overtake waits for the one
    before). At most :data:`LATENCY_BUFFER` bytes are held; past that, the
    relay's task (which holds the direction's lock) sends the oldest chunk
    itself when it is due, so back-pressure reaches the sender. A timer task
    sends chunks as they fall due; whoever sends holds the direction's lock.
    """

    def __init__(self, toxic: Latency, link: Link) -> None:
        super().__init__()
        self.toxic, self.link = toxic, link
        self.queue: deque[tuple[float, bytes, Send]] = deque()
        self.held = 0
        self.arrived = trio.Event()
        link.start_soon(self._send_when_due)

    def retire(self) -> None:
        super().retire()
        self.arrived.set()  # the timer task ends once the queue is empty

    def _delay(self) -> float:
        toxic = self.toxic
        jitter = self.link.rng.uniform(-toxic.jitter, toxic.jitter) if toxic.jitter else 0.0
        return max(0.0, _seconds(toxic.latency + jitter))

    async def pipe(self, chunk: bytes, send: Send) -> None:
        while self.queue and self.held + len(chunk) > LATENCY_BUFFER:
            await self._send_oldest()
        self.queue.append((trio.current_time() + self._delay(), chunk, send))
        self.held += len(chunk)
        self.arrived.set()

    async def flush(self, send: Send) -> None:
        while self.queue:
            await self._send_oldest()

    async def _send_oldest(self) -> None:
        """With the direction's lock held: wait until the oldest chunk is due, send it."""
        due, chunk, send = self.queue[0]
        await trio.sleep_until(due)
        self.queue.popleft()
        self.held -= len(chunk)
        await send(chunk)

    async def _send_when_due(self) -> None:
        while True:
            while not self.queue:
                if self.retired.is_set():
                    return
                self.arrived = trio.Event()
                await self.arrived.wait()
            await trio.sleep_until(self.queue[0][0])
            async with self.link.lock:
                try:
                    while self.queue and self.queue[0][0] <= trio.current_time():
                        await self._send_oldest()
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    # The far side went while chunks were held; outside the relay's own
                    # error path, so this connection is ended here (the proxy goes on).
                    self.link.reset("latency: peer gone")
                    return


@dataclass(frozen=True, kw_only=True)
class Latency(Toxic):
    """Each chunk goes on ``latency`` ± ``jitter`` ms (uniform) after it arrived, in order."""

    kind: ClassVar[str] = "latency"
    latency: float = 0
    jitter: float = 0

    def stage(self, link: Link) -> Stage:
        return _Latency(self, link)


class _Bandwidth(Stage):
    def __init__(self, rate: int) -> None:
        super().__init__()
        self.rate = rate

    async def pipe(self, chunk: bytes, send: Send) -> None:
        step = max(1, self.rate // 10)  # pieces of a tenth of a second
        for start in range(0, len(chunk), step):
            piece = chunk[start:start + step]
            await send(piece)
            await trio.sleep(len(piece) / self.rate)


@dataclass(frozen=True, kw_only=True)
class Bandwidth(Toxic):
    """At most ``rate`` bytes per second (sent in tenths of a second's worth)."""

    kind: ClassVar[str] = "bandwidth"
    rate: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rate < 1:
            raise ValueError("rate must be at least 1 byte/s")

    def stage(self, link: Link) -> Stage:
        return _Bandwidth(self.rate)


class _Slicer(Stage):
    def __init__(self, toxic: Slicer, link: Link) -> None:
        super().__init__()
        self.toxic, self.rng = toxic, link.rng

    async def pipe(self, chunk: bytes, send: Send) -> None:
        toxic, start = self.toxic, 0
        while start < len(chunk):
            size = toxic.average_size + self.rng.randint(-toxic.size_variation,
                                                         toxic.size_variation)
            size = max(1, size)
            await send(chunk[start:start + size])
            start += size
            if toxic.delay and start < len(chunk):
                await trio.sleep(_seconds(toxic.delay))


@dataclass(frozen=True, kw_only=True)
class Slicer(Toxic):
    """Chunks cut into pieces of ``average_size`` ± ``size_variation`` bytes, ``delay`` ms apart."""

    kind: ClassVar[str] = "slicer"
    average_size: int = 1
    size_variation: int = 0
    delay: float = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.average_size < 1 or self.size_variation >= self.average_size:
            raise ValueError("average_size must be at least 1 and above size_variation")

    def stage(self, link: Link) -> Stage:
        return _Slicer(self, link)


class _Coalescer(Stage):
    def __init__(self, window: float, link: Link) -> None:
        super().__init__()
        self.window, self.link = window, link
        self.held = bytearray()
        self.send: Send | None = None

    async def pipe(self, chunk: bytes, send: Send) -> None:
        if not self.held:
            self.link.start_soon(self._flush_later)
        self.held += chunk
        self.send = send

    async def _flush_later(self) -> None:
        await trio.sleep(_seconds(self.window))
        async with self.link.lock:
            if self.send is None:
                return
            try:
                await self.flush(self.send)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                # The far side went while bytes were held: this connection ends, the
                # proxy's others go on (the timer runs outside the relay's error path).
                self.link.close("coalescer: peer gone")

    async def flush(self, send: Send) -> None:
        if self.held:
            data, self.held = bytes(self.held), bytearray()
            await send(data)


@dataclass(frozen=True, kw_only=True)
class Coalescer(Toxic):
    """Chunks arriving within ``window`` ms of the first held one go on as one."""

    kind: ClassVar[str] = "coalescer"
    window: float = 0

    def stage(self, link: Link) -> Stage:
        return _Coalescer(self.window, link)


class _Timeout(Stage):
    def __init__(self, timeout: float, link: Link) -> None:
        super().__init__()
        if timeout:
            link.start_soon(self._close_later, timeout, link)

    async def _close_later(self, timeout: float, link: Link) -> None:
        with trio.move_on_after(_seconds(timeout)):
            await self.retired.wait()
            return
        link.close("timeout")

    async def pipe(self, chunk: bytes, send: Send) -> None:
        return None  # swallowed

    async def flush(self, send: Send) -> None:
        await self.retired.wait()  # the FIN is held too, until the toxic goes


@dataclass(frozen=True, kw_only=True)
class Timeout(Toxic):
    """A blackhole: data (and the FIN) swallowed; the connection closed after ``timeout`` ms.

    ``timeout`` 0: never closed, data swallowed until the toxic is removed.
    """

    kind: ClassVar[str] = "timeout"
    timeout: float = 0

    def stage(self, link: Link) -> Stage:
        return _Timeout(self.timeout, link)


class _ResetPeer(Stage):
    def __init__(self, timeout: float, link: Link) -> None:
        super().__init__()
        link.start_soon(self._reset_later, timeout, link)

    async def _reset_later(self, timeout: float, link: Link) -> None:
        with trio.move_on_after(_seconds(timeout)):
            await self.retired.wait()
            return
        link.reset("reset_peer")


@dataclass(frozen=True, kw_only=True)
class ResetPeer(Toxic):
    """Both sides reset (RST, SO_LINGER 0) ``timeout`` ms after the toxic meets a connection."""

    kind: ClassVar[str] = "reset_peer"
    timeout: float = 0

    def stage(self, link: Link) -> Stage:
        return _ResetPeer(self.timeout, link)


class _LimitData(Stage):
    def __init__(self, limit: int, link: Link) -> None:
        super().__init__()
        self.left, self.link = limit, link

    async def pipe(self, chunk: bytes, send: Send) -> None:
        piece = chunk[:self.left]
        if piece:
            await send(piece)
            self.left -= len(piece)
        if self.left == 0:
            self.link.close("limit_data")


@dataclass(frozen=True, kw_only=True)
class LimitData(Toxic):
    """The connection closed once ``bytes`` have passed in this direction (none beyond)."""

    kind: ClassVar[str] = "limit_data"
    bytes: int = 0

    def stage(self, link: Link) -> Stage:
        return _LimitData(self.bytes, link)


class _SlowClose(Stage):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def flush(self, send: Send) -> None:
        with trio.move_on_after(_seconds(self.delay)):
            await self.retired.wait()


@dataclass(frozen=True, kw_only=True)
class SlowClose(Toxic):
    """The FIN passed on ``delay`` ms late."""

    kind: ClassVar[str] = "slow_close"
    delay: float = 0

    def stage(self, link: Link) -> Stage:
        return _SlowClose(self.delay)


KINDS: dict[str, type[Toxic]] = {
    cls.kind: cls
    for cls in (Latency, Bandwidth, Slicer, Coalescer, Timeout, ResetPeer, LimitData, SlowClose)
}
