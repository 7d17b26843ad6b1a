"""Exercise 3, message boundaries: a line-reversing server and client under slicing and coalescing.

The protocol: lines of UTF-8 text ended by ``\\n``; for each line the server
answers one line, the same characters reversed (``hello\\n`` → ``olleh\\n``).
Reversal is chosen because it shows a wrong boundary at once: a line
answered in two pieces, or two lines answered as one, come back visibly
wrong, where an echo or upper-casing would look right.

Server checks (netlab's reference client, directly or through the fault
proxy with the seeded toxic in front of the learner's server): lines one at
a time; many lines glued into one segment (coalescer); each line cut into
small pieces, some milliseconds apart (slicer).

Client checks (netlab's reference line reverser, behind the fault proxy on
the exercise port): every reply printed once, whole; replies cut into
pieces; replies glued together.
"""

from __future__ import annotations

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram
from lab.proxy.toxics import Coalescer, Slicer, Toxic

FOLDER = "exercises/03-boundaries"
WAIT = 3.0  # one reply on loopback, even through the slicer, takes well under a second
LINES = 6
WORDS = ("socket", "stream", "segment", "window", "buffer", "packet", "netlab", "framing",
         "newline", "recv", "sendall", "boundary", "kernel", "loopback", "port", "byte")
COALESCE_MS = 60  # chunks arriving within this window leave the proxy as one
SLICE = {"average_size": 4, "size_variation": 3, "delay": 10}  # 1-7 bytes, 10 ms apart


def reverse(line: str) -> str:
    return line[::-1]


def sample_lines(ctx: CheckContext, count: int = LINES) -> list[str]:
    """Distinct lines of a few words, no reply a piece of another (seeded)."""
    lines: list[str] = []
    while len(lines) < count:
        words = [ctx.random.choice(WORDS) for _ in range(ctx.random.randint(2, 4))]
        line = " ".join([*words, str(ctx.random.randrange(1000, 9999))])
        if all(line not in other and other not in line for other in lines):
            lines.append(line)
    return lines


class LineReader:
    """A reference client's view of a stream: whole lines, the rest kept for the next."""

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.pending = b""
        self.closed = False

    async def line(self, timeout: float) -> bytes | None:
        """The next line without its ``\\n``; None if none came whole within ``timeout``."""
        with trio.move_on_after(timeout):
            while b"\n" not in self.pending and not self.closed:
                try:
                    data = await self.stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                self.closed = not data
                self.pending += data
        if b"\n" not in self.pending:
            return None
        line, self.pending = self.pending.split(b"\n", 1)
        return line


def _what_came(got: bytes | None, reader: LineReader) -> str:
    if got is not None:
        return f"{got.decode(errors='replace')!r}"
    state = "the connection closed" if reader.closed else f"nothing whole within {WAIT:g}s"
    return f"{state} (pending {reader.pending[:60]!r})"


# The learner's server ---------------------------------------------------------------------


async def _lockstep(ctx: CheckContext, port: int, lines: list[str], how: str) -> Outcome:
    """Send each line, wait for its reply before the next; the first wrong reply fails."""
    async with await ctx.connect(port) as stream:
        reader = LineReader(stream)
        for number, line in enumerate(lines, 1):
            await stream.send_all(f"{line}\n".encode())
            got = await reader.line(WAIT)
            if got != reverse(line).encode():
                return Outcome(False, f"{how}: line {number} {line!r} was answered "
                               f"{_what_came(got, reader)}, not {reverse(line)!r}")
    return Outcome(True, f"{how}: {len(lines)} lines, each answered whole and reversed")


async def one_line_at_a_time(ctx: CheckContext) -> Outcome:
    lines = sample_lines(ctx)
    async with ctx.server_program():
        return await _lockstep(ctx, ctx.port, lines,
                               "sent one line at a time, each in a segment of its own")


async def coalesced_lines(ctx: CheckContext) -> Outcome:
    lines = sample_lines(ctx)
    glue = Coalescer(name="coalescer", stream="upstream", window=COALESCE_MS)
    async with ctx.server_program(), ctx.proxy(ctx.port, glue) as port, \
            await ctx.connect(port) as stream:
        for line in lines:  # one send each; the proxy delivers them glued
            await stream.send_all(f"{line}\n".encode())
        reader = LineReader(stream)
        for number, line in enumerate(lines, 1):
            got = await reader.line(WAIT)
            if got != reverse(line).encode():
                return Outcome(False, f"sent {len(lines)} lines, one send each, glued "
                               f"into one segment on the way; reply {number} was "
                               f"{_what_came(got, reader)}, not {reverse(line)!r}")
    return Outcome(True, f"{len(lines)} lines arrived in one segment; {len(lines)} replies, "
                   "each whole, in order")


async def sliced_lines(ctx: CheckContext) -> Outcome:
    lines = sample_lines(ctx)
    cut = Slicer(name="slicer", stream="upstream", **SLICE)
    async with ctx.server_program(), ctx.proxy(ctx.port, cut) as port:
        return await _lockstep(ctx, port, lines,
                               "each line cut into pieces of 1-7 bytes, 10 ms apart")


# The learner's client ---------------------------------------------------------------------


class Reverser:
    """The reference line reverser for the client checks, keeping what it received."""

    def __init__(self) -> None:
        self.received: list[str] = []

    async def handle(self, stream: trio.SocketStream) -> None:
        reader = LineReader(stream)
        while (line := await reader.line(60)) is not None:
            text = line.decode(errors="replace")
            self.received.append(text)
            await stream.send_all(reverse(text).encode() + b"\n")


def _printed_once(output: str, reply: str) -> bool:
    """``reply`` printed exactly once, and as the end of a line (not glued to what follows)."""
    at = output.find(reply)
    if at < 0 or output.find(reply, at + 1) >= 0:
        return False
    end = at + len(reply)
    return end == len(output) or output[end] in "\r\n"


async def _client_run(ctx: CheckContext, toxics: tuple[Toxic, ...], how: str) -> Outcome:
    lines = sample_lines(ctx)
    replies = [reverse(line) for line in lines]
    reverser = Reverser()
    async with ctx.reference_server(reverser.handle) as upstream, \
            ctx.proxy(upstream, *toxics, listen_port=ctx.port), \
            ctx.client_program() as program:
        await program.send_bytes("".join(f"{line}\n" for line in lines).encode())
        await program.close_stdin()
        await _await_replies(program, replies)
    wrong = [reply for reply in replies if not _printed_once(program.output, reply)]
    if not wrong:
        return Outcome(True, f"{how}: typed {len(lines)} lines, each reply printed once, whole")
    if not reverser.received:
        return Outcome(False, f"typed {len(lines)} lines; the server received none"
                       + _stderr(program))
    return Outcome(False, f"{how}: typed {len(lines)} lines; {len(wrong)} replies were not "
                   f"printed once and whole, e.g. {wrong[0]!r}; the client printed "
                   f"{_lines(program.output)!r}" + _stderr(program))


async def _await_replies(program: LearnerProgram, replies: list[str]) -> None:
    """Until every reply was printed, the client exited or ``WAIT`` passed with no progress."""
    while True:
        before = len(program.output)
        for reply in replies:
            if reply not in program.output and not await program.wait_output(reply, WAIT):
                break
        else:
            await program.wait_exit(0.2)  # anything printed twice shows up now
            return
        if len(program.output) == before or not program.alive:
            return


def _lines(output: str) -> list[str]:
    return [line.strip() for line in output.strip().splitlines()][:8]


def _stderr(program: LearnerProgram) -> str:
    tail = program.stderr_tail(2)
    return f"; stderr: {tail}" if tail else ""


async def prints_each_reply(ctx: CheckContext) -> Outcome:
    return await _client_run(ctx, (), "replies as sent, one segment each")


async def sliced_replies(ctx: CheckContext) -> Outcome:
    cut = Slicer(name="slicer", stream="downstream", **SLICE)
    return await _client_run(ctx, (cut,), "each reply cut into pieces of 1-7 bytes, 10 ms apart")


async def coalesced_replies(ctx: CheckContext) -> Outcome:
    glue = Coalescer(name="coalescer", stream="downstream", window=COALESCE_MS)
    return await _client_run(ctx, (glue,), f"replies held and glued ({COALESCE_MS} ms window)")


RECV_HINT = "assumed one recv() is one message"

EXERCISE = Exercise(
    number=3,
    id="boundaries",
    title="Message boundaries: frame your messages, TCP will not",
    doc="docs/exercises/03-boundaries.md",
    checks=(
        Check("one-line-at-a-time", "server",
              "a line-framed server: one reply per line",
              "answer each line ending in \\n with one line: its characters reversed, then "
              "\\n (hello\\n gets olleh\\n)",
              one_line_at_a_time),
        Check("coalesced-lines", "server",
              "TCP is a byte stream: several sends can arrive in one recv()",
              f"{RECV_HINT}: several lines arrived in one recv(); keep what you receive in a "
              "buffer, answer every complete line in it (up to each \\n) and keep the rest "
              "for the next recv()",
              coalesced_lines),
        Check("sliced-lines", "server",
              "TCP is a byte stream: one send can arrive in several recv() calls",
              f"{RECV_HINT}: a line arrived in pieces; keep receiving into a buffer until it "
              "holds a \\n, and answer only whole lines",
              sliced_lines),
        Check("prints-each-reply", "client",
              "a line-framed client: one reply line per line sent",
              "send each line typed with its \\n and print each reply line, once",
              prints_each_reply),
        Check("sliced-replies", "client",
              "TCP is a byte stream: one reply can arrive in several recv() calls",
              f"{RECV_HINT}: a reply arrived in pieces; read into a buffer until it holds a "
              "\\n, print that line whole, keep the rest for the next reply",
              sliced_replies),
        Check("coalesced-replies", "client",
              "TCP is a byte stream: several replies can arrive in one recv()",
              f"{RECV_HINT}: several replies arrived in one recv(); split what you receive "
              "at each \\n, print each line once, keep an unfinished one for later",
              coalesced_replies),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "coalesced-lines": RECV_HINT,
            "sliced-lines": RECV_HINT,
        }),
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "sliced-replies": RECV_HINT,
        }),
    ),
)
