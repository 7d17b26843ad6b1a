"""Exercise 9, backpressure: one client that stops reading must not stall a broadcast chat.

Server checks (netlab's clients against the learner's broadcast chat server,
where each line goes to every client, the sender included). A slow consumer
joins with a small receive buffer, says one line, and never reads again.
Then a talker sends :data:`LINES` lines of :data:`LINE_SIZE` bytes (more than
the kernel's buffers towards the slow consumer and the exercise's queue
bound together) while a listener counts them:

* ``others-keep-receiving``: the listener gets every line, in order, with no
  pause of :data:`STALL` seconds (a blocking broadcast stops at the slow
  consumer's full buffers, and everyone waits behind it);
* ``slow-consumer-dropped``: the slow consumer is disconnected (it reads
  what was queued for it, then a FIN or a RST), so what the server holds for
  it is bounded; the exercise's rule is at most :data:`QUEUE_RULE` lines.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome

FOLDER = "exercises/09-backpressure"
QUEUE_RULE = 1000  # the exercise's rule: a client further behind is disconnected
LINE_SIZE = 1024
LINES = 8000  # ~8 MB: beyond the slow consumer's socket buffers (~3 MB) plus QUEUE_RULE lines
BATCH = 64  # lines per send_all of the talker
WINDOW = 512  # lines the talker may be ahead of its readers (well under QUEUE_RULE)
SMALL_BUFFER = 4096  # the slow consumer's SO_RCVBUF
REPLY_WAIT = 2.0
STALL = 3.0  # no line for this long: the broadcast is stalled
BURST_LIMIT = 20.0
DROP_WAIT = 3.0  # the slow consumer drains; a connection still open this long after is kept
DRAIN_LIMIT = 15.0


@dataclass
class Burst:
    """What the listener (and the talker, of its own lines) heard of one burst.

    The talker stays at most :data:`WINDOW` lines ahead of the slower of the
    two, so neither is ever a slow consumer itself: only the client that
    stopped reading falls behind.
    """

    heard: int = 0  # talker's lines the listener received, in order
    echoed: int = 0  # talker's lines the talker received back
    out_of_order: str = ""
    stalled: bool = False
    seconds: float = 0.0
    progress: trio.Event = field(default_factory=trio.Event)

    def advanced(self) -> None:
        self.progress.set()
        self.progress = trio.Event()

    async def room(self, sent: int) -> None:
        """Wait until the talker may send line ``sent`` without outrunning its readers."""
        while sent - min(self.heard, self.echoed) >= WINDOW:
            await self.progress.wait()


async def _slow_consumer(ctx: CheckContext) -> trio.SocketStream:
    """A client with a small receive buffer (set before connecting, so its window is small)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    with trio.fail_after(REPLY_WAIT):
        await sock.connect((ctx.host, ctx.port))
    return trio.SocketStream(sock)


def _line(seq: int) -> bytes:
    head = f"m{seq:05d} "
    return (head + "x" * (LINE_SIZE - len(head) - 1) + "\n").encode()


async def _talk(stream: trio.SocketStream, burst: Burst) -> None:
    for start in range(0, LINES, BATCH):
        await burst.room(start)
        batch = range(start, min(LINES, start + BATCH))
        await stream.send_all(b"".join(_line(seq) for seq in batch))


async def _drain(stream: trio.SocketStream, burst: Burst) -> None:
    """Count the talker's own lines coming back (it must not become a slow consumer itself)."""
    while data := await stream.receive_some(65536):
        burst.echoed += data.count(b"\n")
        burst.advanced()


async def _listen(stream: trio.SocketStream, burst: Burst) -> None:
    """Count the talker's lines in order; return once all came, or when none came for STALL."""
    buffer = b""
    while burst.heard < LINES:
        chunk: bytes | None = None
        with trio.move_on_after(STALL):
            chunk = await stream.receive_some(65536)
        if not chunk:  # a stall (None) or the server closed the listener
            burst.stalled = chunk is None
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"m"):
                continue  # another client's line
            expected = f"m{burst.heard:05d} ".encode()
            if not line.startswith(expected):
                burst.out_of_order = f"expected line {burst.heard}, got {line[:7]!r}"
                return
            burst.heard += 1
        burst.advanced()


async def _join(ctx: CheckContext, stream: trio.SocketStream, name: str) -> bytes:
    line = f"{name} joined {ctx.random.randrange(1000, 9999)}\n".encode()
    await stream.send_all(line)
    return line


async def _burst(ctx: CheckContext, slow: trio.SocketStream, talker: trio.SocketStream,
                 listener: trio.SocketStream) -> Burst | str:
    """Register everyone, then burst; a string says which step of the set-up failed."""
    for name, stream in (("talker", talker), ("listener", listener)):
        line = await _join(ctx, stream, name)
        if line not in await ctx.recv_until(stream, line, REPLY_WAIT):
            return f"the {name} sent {line!r} and did not get it back"
    hello = await _join(ctx, slow, "slow-reader")
    for name, stream in (("talker", talker), ("listener", listener)):
        if hello not in await ctx.recv_until(stream, hello, REPLY_WAIT):
            return f"the slow reader sent {hello!r}; the {name} did not get it"
    burst = Burst()
    started = trio.current_time()
    with trio.move_on_after(BURST_LIMIT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_talk, talker, burst)
            nursery.start_soon(_drain, talker, burst)
            await _listen(listener, burst)
            nursery.cancel_scope.cancel()
    burst.seconds = trio.current_time() - started
    return burst


def _story(burst: Burst) -> str:
    return (f"a client stopped reading; another sent {LINES} lines of {LINE_SIZE} bytes; "
            f"a third received {burst.heard}")


async def others_keep_receiving(ctx: CheckContext) -> Outcome:
    async with ctx.server_program():
        slow = await _slow_consumer(ctx)
        async with slow, await ctx.connect() as talker, await ctx.connect() as listener:
            burst = await _burst(ctx, slow, talker, listener)
    if isinstance(burst, str):
        return Outcome(False, burst)
    story = _story(burst)
    if burst.out_of_order:
        return Outcome(False, f"{story}, out of order: {burst.out_of_order}")
    if burst.heard < LINES:
        why = (f"then nothing for {STALL:g}s" if burst.stalled
               else "then its connection ended" if burst.seconds < BURST_LIMIT
               else f"in {BURST_LIMIT:g}s")
        return Outcome(False, f"{story}, {why}")
    return Outcome(True, f"{story}, in order, in {burst.seconds:.1f}s")


async def _read_until_dropped(stream: trio.SocketStream) -> tuple[int, str]:
    """Read all that was queued; how it ended: ``FIN``, ``RST`` or ``open`` (quiet, not closed)."""
    received = 0
    with trio.move_on_after(DRAIN_LIMIT):
        while True:
            chunk: bytes | None = None
            try:
                with trio.move_on_after(DROP_WAIT):
                    chunk = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return received, "RST"
            if chunk is None:
                return received, "open"
            if not chunk:
                return received, "FIN"
            received += len(chunk)
    return received, "open"


async def slow_consumer_dropped(ctx: CheckContext) -> Outcome:
    async with ctx.server_program():
        slow = await _slow_consumer(ctx)
        async with slow, await ctx.connect() as talker, await ctx.connect() as listener:
            burst = await _burst(ctx, slow, talker, listener)
            if isinstance(burst, str):
                return Outcome(False, burst)
            received, ending = await _read_until_dropped(slow)
    story = (f"a client stopped reading while another sent {LINES} lines of {LINE_SIZE} bytes; "
             f"then it read again: {received} bytes")
    if ending == "open":
        return Outcome(False, f"{story} (about {received // LINE_SIZE} lines had waited for "
                       f"it), and the server still kept its connection open")
    return Outcome(True, f"{story}, then the server's {ending}: it had been disconnected")


EXERCISE = Exercise(
    number=9,
    id="backpressure",
    title="Backpressure: a slow consumer in a broadcast chat",
    doc="docs/exercises/09-backpressure.md",
    checks=(
        Check("others-keep-receiving", "server",
              "flow control: send() blocks while the peer does not read; one client's "
              "back-pressure must not reach the others",
              "one slow consumer blocks a blocking broadcast: back-pressure. sendall() to a "
              "client that stopped reading blocks once its buffers are full; give each client "
              "a bounded queue and a writer thread of its own, and never wait for one client "
              "while broadcasting",
              others_keep_receiving, timeout=35.0),
        Check("slow-consumer-dropped", "server",
              "bounded buffers: what a server holds for a client that does not read must "
              "have a limit",
              f"a client that does not read must not be queued for without bound: disconnect "
              f"a client more than {QUEUE_RULE} lines behind (a full queue.Queue(maxsize="
              f"{QUEUE_RULE}): shutdown() its socket)",
              slow_consumer_dropped, timeout=45.0),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "others-keep-receiving": "one slow consumer blocks a blocking broadcast",
            "slow-consumer-dropped": f"disconnect a client more than {QUEUE_RULE} lines behind",
        }),
    ),
)
