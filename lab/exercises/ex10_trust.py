"""Exercise 10, trust: a classic exec server must run nothing a browser sends it.

Server checks (netlab plays a web page's request, and the tutorial's exec
client, against the learner's classic exec server). A page open in a
browser can make it send ``POST http://127.0.0.1:PORT/`` with a text body of
the page's choosing; a server that hands what it receives to the shell runs
every line of the request, the body included. Each request's body is
``touch MARKER`` (a name drawn from the seed), so whether anything ran shows
as a file in the server's work directory:

* ``refuses-http``: the whole request in one write; nothing of it runs;
* ``refuses-http-in-pieces``: the head, then the body a moment later (as a
  browser may send them); refusing means closing, so the body is never read
  as the next command;
* ``still-runs-commands``: the tutorial's own client still works: a
  command's output comes back (length, ``ok``, bytes) and a command that
  makes a file makes it.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome

FOLDER = "exercises/10-trust"
REPLY_WAIT = 3.0
PIECE_GAP = 0.3  # between the request's head and its body
RUN_WAIT = 1.5  # a command the server ran has made its file by then
POLL = 0.05
AFTER_CLOSE = 0.3  # a server that closed has run nothing by then, or never will


def _request(port: int, marker: str) -> tuple[bytes, bytes]:
    """A browser's cross-origin POST (a "simple" request: no preflight), head and body."""
    body = f"touch {marker}".encode()
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Origin: http://example.test\r\n"
        "Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Accept: */*\r\n"
        "\r\n"
    ).encode()
    return head, body


def _marker(ctx: CheckContext) -> str:
    return f"netlab-ran-{ctx.random.randrange(10**5, 10**6)}"


async def _ran(path: Path, stream: trio.SocketStream, wait: float) -> tuple[bool, bytes]:
    """Whether ``path`` appears within ``wait`` s, and what the server answered meanwhile.

    Returns early once the server has closed and the file is still absent
    :data:`AFTER_CLOSE` later (a refusal).
    """
    answer = bytearray()
    closed = trio.Event()

    async def read() -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while chunk := await stream.receive_some(4096):
                answer.extend(chunk)
        closed.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read)
        deadline = trio.current_time() + wait
        while not await _exists(path) and trio.current_time() < deadline:
            if closed.is_set():
                await trio.sleep(AFTER_CLOSE)
                break
            await trio.sleep(POLL)
        nursery.cancel_scope.cancel()
    return await _exists(path), bytes(answer)


async def _exists(path: Path) -> bool:
    return await trio.Path(path).exists()


async def _appears(path: Path, wait: float) -> bool:
    """Whether ``path`` exists within ``wait`` seconds."""
    deadline = trio.current_time() + wait
    while not await _exists(path):
        if trio.current_time() >= deadline:
            return False
        await trio.sleep(POLL)
    return True


def _answered(answer: bytes) -> str:
    if not answer:
        return "nothing came back"
    return f"the server answered {answer[:60]!r}"


async def refuses_http(ctx: CheckContext) -> Outcome:
    marker = _marker(ctx)
    head, body = _request(ctx.port, marker)
    async with ctx.server_program() as program, await ctx.connect() as stream:
        await stream.send_all(head + body)
        ran, answer = await _ran(program.workdir / marker, stream, REPLY_WAIT)
    story = f"a browser's POST / HTTP/1.1 (Origin: http://example.test) with the body {body!r}"
    if ran:
        return Outcome(False, f"{story}: the body ran ({marker} was created); "
                       + _answered(answer))
    return Outcome(True, f"{story}: nothing ran; {_answered(answer)}")


async def refuses_http_in_pieces(ctx: CheckContext) -> Outcome:
    marker = _marker(ctx)
    head, body = _request(ctx.port, marker)
    async with ctx.server_program() as program, await ctx.connect() as stream:
        await stream.send_all(head)
        await trio.sleep(PIECE_GAP)
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(body)  # fails if refused and closed already: that is fine
        ran, answer = await _ran(program.workdir / marker, stream, RUN_WAIT)
    story = (f"a browser's POST / HTTP/1.1, its head first, then {PIECE_GAP:g}s later the "
             f"body {body!r}")
    if ran:
        return Outcome(False, f"{story}: the body ran ({marker} was created); "
                       + _answered(answer))
    return Outcome(True, f"{story}: nothing ran; {_answered(answer)}")


async def _classic(ctx: CheckContext, stream: trio.SocketStream, command: str) -> bytes | str:
    """One command the tutorial's way; its result, or what went wrong."""
    await stream.send_all(command.encode())
    size = await ctx.recv_until(stream, lambda got: bool(got), REPLY_WAIT)
    if not size.isdigit():
        return f"sent {command!r}, expected a length in digits, got {size[:60]!r}"
    await stream.send_all(b"ok")
    wanted = int(size)
    result = b""
    if wanted:
        result = await ctx.recv_until(stream, lambda got: len(got) >= wanted, REPLY_WAIT)
    if len(result) != wanted:
        return f"sent {command!r}, the server announced {wanted} bytes and sent {len(result)}"
    return result


async def still_runs_commands(ctx: CheckContext) -> Outcome:
    word = f"netlab-{ctx.random.randrange(1000, 9999)}"
    made = _marker(ctx)
    async with ctx.server_program() as program, await ctx.connect() as stream:
        echoed = await _classic(ctx, stream, f"echo {word}")
        if isinstance(echoed, str):
            return Outcome(False, echoed)
        if echoed != f"{word}\n".encode():
            return Outcome(False, f"sent 'echo {word}', the result was {echoed[:60]!r}")
        touched = await _classic(ctx, stream, f"touch {made}")
        if isinstance(touched, str):
            return Outcome(False, touched)
        if not await _appears(program.workdir / made, RUN_WAIT):
            return Outcome(False, f"sent 'touch {made}', answered {touched!r}, "
                           "but no such file appeared in the server's directory")
    return Outcome(True, f"'echo {word}' came back as the tutorial's client expects "
                   f"(length, ok, bytes); 'touch {made}' made its file")


EXERCISE = Exercise(
    number=10,
    id="trust",
    title="Trust: a browser can reach your exec port",
    doc="docs/exercises/10-trust.md",
    checks=(
        Check("refuses-http", "server",
              "any web page can make the browser send a request to any 127.0.0.1 port: "
              "everything from the network is untrusted input",
              "a web page in your browser can reach every 127.0.0.1 port: refuse anything "
              "that looks like HTTP (a request line such as 'POST / HTTP/1.1', a 'Host:' "
              "header) before running it, and close the connection",
              refuses_http),
        Check("refuses-http-in-pieces", "server",
              "a refusal ends the connection: what follows it is never read as a command",
              "a request's head and body can arrive in separate recv()s: after refusing the "
              "head, close the connection, or the body is read (and run) as the next command",
              refuses_http_in_pieces),
        Check("still-runs-commands", "server",
              "the classic protocol: command, length in digits, ok, result",
              "the tutorial's client must still work: run the command, send the result's "
              "length in digits, wait for its 'ok', then send the result",
              still_runs_commands),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "refuses-http": "a web page in your browser can reach every 127.0.0.1 port",
        }),
    ),
)
