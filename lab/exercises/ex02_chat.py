"""Exercise 2, chat: the tutorial's client in a room, then a group chat server for many.

Client checks (netlab's chat server, in-process, listens on the exercise
port; the learner's client is the tutorial's, so the server takes it for a
classic client): a line typed reaches another client of the room; what
others say reaches the learner's client's output, also while nobody types.

Server checks (netlab is every client; lines end with ``\\n``, and each
must reach every other client connected, in any wording that holds the
text): two clients hear each other; many clients at once all hear all the
others; a client that resets does not stop the others nor the server.
"""

from __future__ import annotations

import socket
import struct
from contextlib import AsyncExitStack

import trio

from lab.errors import ProgramFailed
from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram

FOLDER = "exercises/02-chat"
WAIT = 3.0  # a chat line on loopback takes milliseconds; the classic window adds 0.3 s
SETTLE = 0.5  # time for a server to accept() clients that have just connected
CONNECT_WAIT = 2.0  # a connect to a full backlog is retried by the kernel after 1 s, 3 s...
MANY = 8
MESSAGES_EACH = 2


def _token(ctx: CheckContext) -> str:
    return f"{ctx.random.randrange(10000, 99999)}"


def _stderr(program: LearnerProgram) -> str:
    tail = program.stderr_tail()
    return f"; stderr: {tail}" if tail else ""


# The learner's client against netlab's chat --------------------------------------------


async def says_to_the_room(ctx: CheckContext) -> Outcome:
    text = f"hello room {_token(ctx)}"
    async with ctx.reference_server("chat", port=ctx.port), await ctx.connect() as listener, \
            ctx.client_program() as program:
        await program.send_line(text)
        heard = await ctx.recv_until(listener, text.encode(), WAIT)
    if text.encode() in heard:
        return Outcome(True, f"typed {text!r}; another client of #lobby received "
                       f"{heard.decode(errors='replace').strip()!r}")
    return Outcome(False, f"typed {text!r}; another client of #lobby received {heard!r} "
                   f"in {WAIT:g}s{_stderr(program)}")


async def hears_every_message(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    first = f"hi all {token}"
    said = [f"message {n} of 3 from bob {token}" for n in (1, 2, 3)]
    async with ctx.reference_server("chat", port=ctx.port), await ctx.connect() as listener, \
            ctx.client_program() as program:
        # The learner's client speaks first: then it is surely in the room.
        await program.send_line(first)
        if first.encode() not in await ctx.recv_until(listener, first.encode(), WAIT):
            return Outcome(False, f"typed {first!r}; it never reached the room, so the "
                           f"client could not be tested{_stderr(program)}")
        async with await ctx.connect() as speaker:
            for number, text in enumerate(said, 1):
                await speaker.send_all(f"{text}\n".encode())
                if not await program.wait_output(text, WAIT):
                    return Outcome(False, _missed(program, first, said, number))
    return Outcome(True, f"typed {first!r}, then another client said 3 messages while "
                   "nobody typed: all 3 were printed")


def _missed(program: LearnerProgram, first: str, said: list[str], number: int) -> str:
    shown = program.output.strip().splitlines()[-3:]
    return (f"typed {first!r}, then nothing more; another client said {number} of "
            f"{len(said)} messages, and message {number} ({said[number - 1]!r}) was not "
            f"printed within {WAIT:g}s; the client's last lines: {shown!r}")


# The learner's group chat server ---------------------------------------------------------


async def _hears(ctx: CheckContext, stream: trio.SocketStream, text: str) -> bytes:
    return await ctx.recv_until(stream, text.encode(), WAIT)


async def serves_two_clients_at_once(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    from_a, from_b = f"hello from alice {token}", f"hello from bob {token}"
    async with ctx.server_program(), await ctx.connect() as alice, await ctx.connect() as bob:
        await trio.sleep(SETTLE)
        await alice.send_all(f"{from_a}\n".encode())
        heard = await _hears(ctx, bob, from_a)
        if from_a.encode() not in heard:
            return Outcome(False, f"two clients connected; alice said {from_a!r}, bob "
                           f"received {heard!r} in {WAIT:g}s")
        await bob.send_all(f"{from_b}\n".encode())
        heard = await _hears(ctx, alice, from_b)
        if from_b.encode() not in heard:
            return Outcome(False, f"alice's line reached bob; bob said {from_b!r}, alice "
                           f"received {heard!r} in {WAIT:g}s")
    return Outcome(True, "two clients connected at once; each heard the other")


async def many_clients_at_once(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    texts = [[f"client {c} line {m} {token}" for m in range(MESSAGES_EACH)]
             for c in range(MANY)]
    received: list[bytes] = [b""] * MANY

    async def listen(index: int, stream: trio.SocketStream) -> None:
        wanted = [t.encode() for c, lines in enumerate(texts) if c != index for t in lines]
        received[index] = await ctx.recv_until(
            stream, lambda got: all(w in got for w in wanted), WAIT)

    async with ctx.server_program(), AsyncExitStack() as stack:
        streams = []
        for number in range(1, MANY + 1):
            try:
                stream = await ctx.connect(timeout=CONNECT_WAIT)
            except ProgramFailed as error:
                return Outcome(False, f"{number - 1} clients connected; client {number} could "
                               f"not: {error} (a server that accept()s no one while it serves "
                               "one leaves the others in its listen backlog, until it is full)")
            streams.append(await stack.enter_async_context(stream))
        await trio.sleep(SETTLE)
        async with trio.open_nursery() as nursery:
            for index, stream in enumerate(streams):
                nursery.start_soon(listen, index, stream)
            for stream, lines in zip(streams, texts, strict=True):
                for text in lines:
                    await stream.send_all(f"{text}\n".encode())
    others = (MANY - 1) * MESSAGES_EACH
    for index, got in enumerate(received):
        missing = [t for c, lines in enumerate(texts) if c != index for t in lines
                   if t.encode() not in got]
        if missing:
            return Outcome(False, f"{MANY} clients connected, each said {MESSAGES_EACH} "
                           f"lines; client {index} received {others - len(missing)} of the "
                           f"{others} lines of the others (missing e.g. {missing[0]!r})")
    return Outcome(True, f"{MANY} clients connected at once, each said {MESSAGES_EACH} lines; "
                   f"every client received all {others} lines of the others")


def _reset(stream: trio.SocketStream) -> None:
    """Make the next close an RST (SO_LINGER 0): the client vanishes without a goodbye."""
    stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def a_client_leaves(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    before, after, later = (f"{word} {token}" for word in ("before", "after", "later"))
    # carol connects first: a server that keeps her in its list tries her first.
    async with ctx.server_program() as program, await ctx.connect() as carol, \
            await ctx.connect() as alice, await ctx.connect() as bob:
        await trio.sleep(SETTLE)
        await alice.send_all(f"{before}\n".encode())
        if before.encode() not in await _hears(ctx, bob, before):
            return Outcome(False, f"before anyone left, alice said {before!r} and bob did "
                           "not receive it (see serves-two-clients-at-once)")
        _reset(carol)
        await carol.aclose()
        await trio.sleep(SETTLE)
        await alice.send_all(f"{after}\n".encode())
        heard = await _hears(ctx, bob, after)
        if after.encode() not in heard:
            state = "running" if program.alive else f"exited ({program.returncode})"
            return Outcome(False, f"carol reset her connection; then alice said {after!r} "
                           f"and bob received {heard!r} (server {state}){_stderr(program)}")
        async with await ctx.connect() as dave:
            await trio.sleep(SETTLE)
            await alice.send_all(f"{later}\n".encode())
            heard = await _hears(ctx, dave, later)
            if later.encode() not in heard:
                return Outcome(False, "carol reset, bob still heard alice; then dave joined "
                               f"and did not receive alice's {later!r}")
    return Outcome(True, "carol reset her connection; bob still heard alice, and dave, who "
                   "joined after, did too")


CONCURRENCY_HINT = (
    "served one client at a time: while the server blocks in recv() for one client, "
    "accept() never runs for the next; give each client a thread of its own "
    "(threading, or socketserver.ThreadingTCPServer), or use select or Trio")

EXERCISE = Exercise(
    number=2,
    id="chat",
    title="Chat: the tutorial's client in a room, and a server for many clients",
    doc="docs/exercises/02-chat.md",
    checks=(
        Check("says-to-the-room", "client",
              "a client's bytes reach the server, which passes them to the room",
              "the client must connect to HOST PORT from its arguments and send each line "
              "typed (with sendall)",
              says_to_the_room),
        Check("hears-every-message", "client",
              "in a chat, messages arrive when others speak, not as replies: the socket "
              "and the keyboard must be read at once",
              "read the socket only after typing a line (one recv() per line sent): what "
              "arrives while the client waits at input() is never printed; read the socket "
              "in a thread of its own (or with select) and print whatever arrives",
              hears_every_message),
        Check("serves-two-clients-at-once", "server",
              "a blocking accept()/recv() loop serves one client at a time",
              CONCURRENCY_HINT,
              serves_two_clients_at_once),
        Check("many-clients-at-once", "server",
              "a group chat: every message reaches every other client connected",
              "every line must reach every other client, many connected at once: keep the "
              "connections in one list shared by the clients' threads (under a lock) and "
              "send each line to all but its sender; a server that serves one client at a "
              "time cannot",
              many_clients_at_once),
        Check("a-client-leaves", "server",
              "a peer can vanish (reset) at any time: recv() and send() to it raise",
              "a client that left must be taken off the list: its recv() raises "
              "ConnectionResetError and a send to it BrokenPipeError or ConnectionResetError; "
              "catch them (OSError) in that client's thread, remove it and serve the others",
              a_client_leaves),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "hears-every-message": "read the socket only after typing a line",
        }),
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "serves-two-clients-at-once": "one client at a time",
            "many-clients-at-once": "one client at a time",
            "a-client-leaves": "taken off the list",
        }),
    ),
)
