"""Exercise 8, disconnects: FIN, RST and silence, each ending one connection and nothing else.

Server checks (netlab's clients talk to the learner's line chat server,
where each line goes to every client, the sender included): a client that
resets must not take the server or anyone else down; a client that
half-closes is answered and then closed; a client cut off by the network
(the fault proxy swallows everything, both ways: no FIN, no RST) is dropped
once silent for longer than :data:`IDLE_RULE`; silent clients hold nobody
else up. Client checks (a server of netlab's listens on the exercise port):
the learner's client converses and exits 0; when the server resets or closes
mid-conversation it says which, in one line, and exits non-zero without a
traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram
from lab.proxy.proxy import Proxy
from lab.proxy.toxics import Timeout
from lab.relay import reset_on_close

FOLDER = "exercises/08-disconnects"
REPLY_WAIT = 2.0  # a line echoed on loopback takes far less
CLOSE_WAIT = 2.0  # the exercise's rule: answer a FIN by closing within this
IDLE_RULE = 5.0  # the exercise's rule: a client silent for longer is dropped
IDLE_MARGIN = 2.0
SETTLE = 0.3  # time for the server to notice a reset before the next step
EXIT_WAIT = 3.0

Ending = Literal["eof", "reset", "open"]


async def _say(ctx: CheckContext, stream: trio.SocketStream, line: bytes) -> bool:
    """Send ``line``; True once it has come back (the sender gets its own lines)."""
    await stream.send_all(line)
    return line in await ctx.recv_until(stream, line, REPLY_WAIT)


async def _hears(ctx: CheckContext, stream: trio.SocketStream, line: bytes) -> bool:
    return line in await ctx.recv_until(stream, line, REPLY_WAIT)


async def _read_to_end(stream: trio.SocketStream, timeout: float) -> tuple[bytes, Ending]:
    """Everything until the peer's FIN (``eof``) or RST (``reset``); ``open`` on timeout."""
    received = bytearray()
    with trio.move_on_after(timeout):
        while True:
            try:
                chunk = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                return bytes(received), "reset"
            if not chunk:
                return bytes(received), "eof"
            received += chunk
    return bytes(received), "open"


def _stderr(program: LearnerProgram) -> str:
    tail = program.stderr_tail(3)
    return f"; its stderr: {tail}" if tail else ""


def _tag(ctx: CheckContext, name: str) -> bytes:
    return f"{name} {ctx.random.randrange(1000, 9999)}\n".encode()


async def survives_reset(ctx: CheckContext) -> Outcome:
    async with ctx.server_program() as program, await ctx.connect() as alice:
        first = _tag(ctx, "alice")
        if not await _say(ctx, alice, first):
            return Outcome(False, f"alice sent {first!r} and did not get it back")
        rude = await ctx.connect()
        hello = _tag(ctx, "rude")
        heard = await _say(ctx, rude, hello) and await _hears(ctx, alice, hello)
        reset_on_close(rude)  # SO_LINGER 0: close() sends a RST, not a FIN
        await rude.aclose()
        if not heard:
            return Outcome(False, f"a second client sent {hello!r}; it did not reach both")
        await trio.sleep(SETTLE)
        story = "a client said a line, then reset its connection (RST)"
        for step in ("alice", "alice again"):
            line = _tag(ctx, step.replace(" ", "-"))
            if not await _say(ctx, alice, line):
                return Outcome(False, f"{story}; then {step} sent {line!r} and got nothing back"
                               + _stderr(program))
        async with await ctx.connect() as newcomer:
            line = _tag(ctx, "newcomer")
            if not await _say(ctx, newcomer, line):
                return Outcome(False, f"{story}; a new client sent {line!r} and got nothing back"
                               + _stderr(program))
    return Outcome(True, f"{story}; alice (twice) and a new client were still answered")


async def closes_on_fin(ctx: CheckContext) -> Outcome:
    async with ctx.server_program(), await ctx.connect() as stream:
        line = _tag(ctx, "goodbye")
        await stream.send_all(line)
        await stream.send_eof()  # shutdown(SHUT_WR): a FIN, the read side stays open
        received, ending = await _read_to_end(stream, CLOSE_WAIT)
    said = f"sent {line!r} then a FIN (shutdown(SHUT_WR))"
    echoed = "its line came back" if line in received else f"got back {received[:80]!r}"
    if ending == "open":
        return Outcome(False, f"{said}; {echoed}, but the server had not closed its side "
                       f"{CLOSE_WAIT:g}s later")
    how = "closed its side (FIN)" if ending == "eof" else "reset the connection"
    return Outcome(True, f"{said}; {echoed}, then the server {how}")


@asynccontextmanager
async def _cuttable_proxy(ctx: CheckContext, upstream: int) -> AsyncIterator[Proxy]:
    """A fault proxy in front of the learner's server, whose toxics change mid-connection."""
    relay = Proxy(name=f"{ctx.check}-cut", upstream=(ctx.host, upstream),
                  listen=(ctx.host, 0), seed=ctx.random.getrandbits(32))
    async with trio.open_nursery() as nursery:
        await nursery.start(relay.run)
        yield relay
        nursery.cancel_scope.cancel()


async def drops_silent_peer(ctx: CheckContext) -> Outcome:
    async with ctx.server_program(), _cuttable_proxy(ctx, ctx.port) as proxy:
        assert proxy.port is not None
        async with await ctx.connect(proxy.port) as peer:
            line = _tag(ctx, "soon-cut-off")
            if not await _say(ctx, peer, line):
                return Outcome(False, f"a client sent {line!r} and did not get it back")
            # The network between them goes: nothing passes either way, no FIN, no RST.
            proxy.add_toxic(Timeout(name="cut", stream="both", timeout=0))
            await trio.sleep(IDLE_RULE + IDLE_MARGIN)
            proxy.remove_toxic("cut")  # what the server sent meanwhile (its FIN) now passes
            _, ending = await _read_to_end(peer, REPLY_WAIT)
    waited = IDLE_RULE + IDLE_MARGIN
    story = (f"a client said a line, then the network cut it off (no FIN, no RST: half-open); "
             f"{waited:g}s later")
    if ending == "open":
        return Outcome(False, f"{story} the server still held its connection")
    how = "FIN" if ending == "eof" else "RST"
    return Outcome(True, f"{story} the server had dropped it ({how})")


async def serves_others_meanwhile(ctx: CheckContext) -> Outcome:
    async with ctx.server_program() as program, \
            await ctx.connect() as _mute, await ctx.connect() as halfway:
        await halfway.send_all(b"half a line, and then nothing")
        await trio.sleep(SETTLE)
        async with await ctx.connect() as talker:
            line = _tag(ctx, "talker")
            answered = await _say(ctx, talker, line)
    story = ("one client connected and said nothing, another sent half a line and stopped; "
             f"a third sent {line!r}")
    if not answered:
        return Outcome(False, f"{story} and got nothing back within {REPLY_WAIT:g}s"
                       + _stderr(program))
    return Outcome(True, f"{story} and got it back at once")


# The client role: a server of netlab's on the exercise port ----------------------------


Fault = Literal["none", "reset", "close"]


def _line_server(fault: Fault, after: int) -> Callable[[trio.SocketStream], Awaitable[None]]:
    """An echo-line server that answers ``after`` lines, then resets or closes at the next."""

    async def handle(stream: trio.SocketStream) -> None:
        buffer, answered = b"", 0
        while data := await stream.receive_some(4096):
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if fault != "none" and answered == after:
                    if fault == "reset":
                        reset_on_close(stream)
                    return  # the caller closes the stream: FIN, or RST after the line above
                await stream.send_all(line + b"\n")
                answered += 1

    return handle


async def _talk(ctx: CheckContext, fault: Fault) -> tuple[LearnerProgram, list[str], int | None]:
    """Type two lines at the learner's client (the server fails at the second); its exit status."""
    typed = [f"{word} {ctx.random.randrange(1000, 9999)}" for word in ("hello", "again")]
    async with ctx.reference_server(_line_server(fault, after=1), port=ctx.port), \
            ctx.client_program() as program:
        await program.send_line(typed[0])
        if not await program.wait_output(typed[0], REPLY_WAIT):
            return program, typed[:1], await program.wait_exit(0.2)
        await program.send_line(typed[1])
        if fault == "none":
            await program.wait_output(typed[1], REPLY_WAIT)
            await program.close_stdin()
        status = await program.wait_exit(EXIT_WAIT)
        if status is None and fault != "none":
            await program.close_stdin()  # it may be waiting for input: give it the end
            status = await program.wait_exit(EXIT_WAIT)
            typed.append("(end of input)")
    return program, typed, status


async def converses(ctx: CheckContext) -> Outcome:
    program, typed, status = await _talk(ctx, "none")
    missing = [text for text in typed[:2] if text not in program.output]
    if missing:
        return Outcome(False, f"typed {typed}; {missing} not printed back" + _stderr(program))
    if status != 0:
        state = "still running" if status is None else f"exited with status {status}"
        return Outcome(False, f"typed two lines, both printed; at the end of input it was "
                       f"{state}" + _stderr(program))
    return Outcome(True, "typed two lines, both printed; input ended, exit status 0")


async def _reports(ctx: CheckContext, fault: Fault, word: str) -> Outcome:
    program, typed, status = await _talk(ctx, fault)
    event = {"reset": "reset the connection (RST)", "close": "closed the connection (FIN)"}[fault]
    story = f"typed {typed}; the server answered the first, then {event}"
    said = (program.output + program.stderr).lower()
    if "Traceback (most recent call last)" in program.stderr:
        last = program.stderr_tail(1)
        return Outcome(False, f"{story}; the client crashed with a traceback ({last})")
    if status is None:
        return Outcome(False, f"{story}; the client was still running at the end")
    if status == 0:
        return Outcome(False, f"{story}; the client exited with status 0, as if all went well")
    if word not in said:
        return Outcome(False, f"{story}; it exited with status {status} but never said "
                       f"{word!r}: {(program.output + program.stderr)[-160:]!r}")
    return Outcome(True, f"{story}; it said so and exited with status {status}")


async def reports_reset(ctx: CheckContext) -> Outcome:
    return await _reports(ctx, "reset", "reset")


async def reports_close(ctx: CheckContext) -> Outcome:
    return await _reports(ctx, "close", "close")


EXERCISE = Exercise(
    number=8,
    id="disconnects",
    title="Disconnects: FIN, RST and silence",
    doc="docs/exercises/08-disconnects.md",
    checks=(
        Check("survives-reset", "server",
              "a reset (RST) is an ordinary event: it ends that one connection, nothing else",
              "FIN vs RST: recv raises ConnectionResetError on a reset (and sending to that "
              "socket raises BrokenPipeError); catch it per client, drop that client from "
              "the room and close its socket, and keep serving the others",
              survives_reset),
        Check("closes-on-fin", "server",
              "recv() returning b'' is the peer's FIN: the end of its data, one direction only",
              "a client that half-closes (FIN) makes recv() return b'': answer what it sent, "
              f"then close that socket within {CLOSE_WAIT:g}s; do not loop on b'' (spinning)",
              closes_on_fin),
        Check("drops-silent-peer", "server",
              "half-open connections: a peer cut off by the network sends no FIN and no RST",
              f"a silent peer is never noticed by a blocking recv(): drop a client silent for "
              f"more than {IDLE_RULE:g} s (conn.settimeout({IDLE_RULE:g}) and catch "
              "TimeoutError); TCP keepalive alone only notices a vanished host, and slowly",
              drops_silent_peer, timeout=25.0),
        Check("serves-others-meanwhile", "server",
              "each connection waits on its own: a silent client holds nobody else up",
              "a client that says nothing (or half a line) must not hold the server: serve "
              "each client in a thread of its own (exercise 7) with its own timeout",
              serves_others_meanwhile),
        Check("converses", "client",
              "a client that talks and then ends its input exits 0",
              "type a line, print the server's line back, and exit 0 at the end of input",
              converses),
        Check("reports-reset", "client",
              "a reset (RST) raises ConnectionResetError: what was in flight may be lost",
              "recv() raised ConnectionResetError and nothing caught it: catch it, print one "
              "line saying the server reset the connection, and exit non-zero (no traceback)",
              reports_reset),
        Check("reports-close", "client",
              "recv() returning b'' is the server's FIN: the conversation is over",
              "recv() returning b'' means the server closed the connection: print one line "
              "saying it was closed and exit non-zero, instead of printing nothing and going on",
              reports_close),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "survives-reset": "recv raises ConnectionResetError on a reset",
            "drops-silent-peer": "drop a client silent for more than 5 s",
        }),
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "reports-reset": "ConnectionResetError and nothing caught it",
            "reports-close": "recv() returning b'' means the server closed",
        }),
    ),
)
