"""Exercise 1, first connection: an echo server and an echo client that last.

Server checks (netlab is the client): one line echoed; several lines on one
connection; a second client after the first; a client that leaves without a
word. Client checks (netlab's echo server listens on the exercise port): a
line typed comes back printed; every line typed is sent; the end of input
ends the client and closes its connection.
"""

from __future__ import annotations

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome

REPLY_WAIT = 3.0  # an echo on loopback takes far less
FOLDER = "exercises/01-first-connection"


async def _echo_once(ctx: CheckContext, stream: trio.SocketStream, line: bytes) -> bytes:
    await stream.send_all(line)
    return await ctx.recv_until(stream, line, REPLY_WAIT)


async def accepts_and_echoes(ctx: CheckContext) -> Outcome:
    async with ctx.server_program(), await ctx.connect() as stream:
        line = f"hello {ctx.random.randrange(1000, 9999)}\n".encode()
        got = await _echo_once(ctx, stream, line)
    return Outcome(line in got, f"sent {line!r}, got back {got!r}")


async def echoes_several_lines(ctx: CheckContext) -> Outcome:
    async with ctx.server_program(), await ctx.connect() as stream:
        lines = [f"line {n} of 3: {ctx.random.randrange(1000, 9999)}\n".encode()
                 for n in (1, 2, 3)]
        for number, line in enumerate(lines, 1):
            got = await _echo_once(ctx, stream, line)
            if line not in got:
                return Outcome(False, f"line {number} {line!r} got back {got!r}"
                               + (" (connection closed)" if not got else ""))
    return Outcome(True, "3 lines sent one after another on one connection, 3 echoed")


async def serves_next_client(ctx: CheckContext) -> Outcome:
    async with ctx.server_program() as program:
        async with await ctx.connect() as first:
            got = await _echo_once(ctx, first, b"first client\n")
        if b"first client\n" not in got:
            return Outcome(False, f"the first client got {got!r} back")
        await trio.sleep(0.2)  # the server sees the first client leave
        if not program.alive:
            return Outcome(False, "after its first client left, the server exited "
                           f"(status {program.returncode})")
        async with await ctx.connect() as second:
            got = await _echo_once(ctx, second, b"second client\n")
        return Outcome(b"second client\n" in got,
                       f"first client echoed; the second sent 'second client\\n', got {got!r}")


async def handles_client_close(ctx: CheckContext) -> Outcome:
    async with ctx.server_program() as program:
        async with await ctx.connect():
            pass  # connect, then close without sending a byte
        await trio.sleep(0.3)
        if await program.wait_exit(0) is not None:
            return Outcome(False, "a client closed without sending anything and the server "
                           f"exited (status {program.returncode})"
                           + (f"; stderr: {program.stderr_tail()}" if program.stderr else ""))
        async with await ctx.connect() as stream:
            got = await _echo_once(ctx, stream, b"still there?\n")
        return Outcome(b"still there?\n" in got,
                       "a client closed without a word; the next one sent 'still there?\\n', "
                       f"got {got!r}")


class _EchoLog:
    """netlab's echo server for the client checks: what it saw, and when a client left."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.connections = 0
        self.closed = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        try:
            while data := await stream.receive_some(4096):
                self.received += data
                await stream.send_all(data)
        finally:
            self.closed.set()


async def connects_and_prints(ctx: CheckContext) -> Outcome:
    echo = _EchoLog()
    text = f"hello netlab {ctx.random.randrange(1000, 9999)}"
    async with ctx.reference_server(echo.handle, port=ctx.port), ctx.client_program() as program:
        await program.send_line(text)
        printed = await program.wait_output(text, REPLY_WAIT)
    if printed:
        return Outcome(True, f"typed {text!r}, the server echoed it, the client printed it")
    return Outcome(False, f"typed {text!r}; the server received {bytes(echo.received)!r}; "
                   f"the client printed {program.output[-200:]!r}"
                   + (f"; stderr: {program.stderr_tail()}" if program.stderr else ""))


async def sends_every_line(ctx: CheckContext) -> Outcome:
    echo = _EchoLog()
    texts = [f"message {n} {ctx.random.randrange(1000, 9999)}" for n in (1, 2, 3)]
    async with ctx.reference_server(echo.handle, port=ctx.port), ctx.client_program() as program:
        for number, text in enumerate(texts, 1):
            await program.send_line(text)
            if not await program.wait_output(text, REPLY_WAIT):
                await program.wait_exit(0.2)
                state = (f"it had exited (status {program.returncode})"
                         if not program.alive else "it was still running")
                return Outcome(False, f"typed {number} of 3 lines; line {number} {text!r} "
                               f"was not printed back ({state}); the server received "
                               f"{bytes(echo.received)!r}")
    return Outcome(True, "typed 3 lines, each echoed and printed, on one connection"
                   if echo.connections == 1 else
                   f"typed 3 lines, each printed, over {echo.connections} connections")


async def exits_at_end_of_input(ctx: CheckContext) -> Outcome:
    echo = _EchoLog()
    async with ctx.reference_server(echo.handle, port=ctx.port), ctx.client_program() as program:
        await program.send_line("last words")
        if not await program.wait_output("last words", REPLY_WAIT):
            return Outcome(False, f"typed 'last words', the client printed {program.output!r}")
        await program.close_stdin()
        status = await program.wait_exit(REPLY_WAIT)
        with trio.move_on_after(REPLY_WAIT):
            await echo.closed.wait()
    if status is None:
        return Outcome(False, f"input ended, the client still ran {REPLY_WAIT:g}s later")
    if status != 0:
        return Outcome(False, f"input ended, the client exited with status {status}"
                       + (f"; stderr: {program.stderr_tail(2)}" if program.stderr else ""))
    if not echo.closed.is_set():
        return Outcome(False, "the client exited 0 but the server never saw its connection end")
    return Outcome(True, "input ended: the client closed its connection and exited 0")


SERVER = "server"
CLIENT = "client"

EXERCISE = Exercise(
    number=1,
    id="first-connection",
    title="First connection: an echo server and client that last",
    doc="docs/exercises/01-first-connection.md",
    checks=(
        Check("accepts-and-echoes", "server",
              "a server binds, listens and accepts; what it receives it can send back",
              "the server must accept() a client, recv() its bytes and sendall() them back",
              accepts_and_echoes),
        Check("echoes-several-lines", "server",
              "one connection carries many messages: recv() again until it returns b''",
              "the server called recv() once per connection: loop on recv() and echo each "
              "piece until recv() returns b''",
              echoes_several_lines),
        Check("serves-next-client", "server",
              "a server outlives its clients: accept() in a loop",
              "the server stopped after its first client: put accept() (and the client's "
              "loop) inside a loop of its own",
              serves_next_client),
        Check("handles-client-close", "server",
              "recv() returning b'' means the peer closed: close that connection, go on",
              "when a client closes, recv() returns b'': end that client's loop there, "
              "close its socket and accept the next (do not exit, do not spin on b'')",
              handles_client_close),
        Check("connects-and-prints", "client",
              "a client connects, sends bytes and reads the reply",
              "the client must connect to HOST PORT from its arguments, send the line typed "
              "and print what comes back",
              connects_and_prints),
        Check("sends-every-line", "client",
              "one connection carries a whole conversation",
              "the client sent only its first line: loop on input(), sending each line and "
              "printing its echo, on the same connection",
              sends_every_line),
        Check("exits-at-end-of-input", "client",
              "closing a socket tells the peer: it reads b''",
              "at the end of input (EOFError from input()) the client must close its socket "
              "and exit 0",
              exits_at_end_of_input),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "echoes-several-lines": "recv() once per connection",
            "serves-next-client": "stopped after its first client",
            "handles-client-close": "recv() returns b''",
        }),
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "sends-every-line": "sent only its first line",
        }),
    ),
)
