"""Exercise 4, remote exec: the tutorial's exchange (length, ack, result) done right, both ends.

The protocol (classic exec): the client sends a command with one send; the
server runs it with a shell and answers with the result's length in ASCII
digits, waits for the client's ack (one receive of anything: ``ok``), then
sends the result: stdout if the command exited 0, else stderr. A zero-length
result is valid (``0``, ack, nothing). Several commands per connection.

Nothing ends the length's digits: the server sends nothing more before the
ack, so a reader takes every digit that arrives until the server falls
quiet (:data:`QUIET`), then acks. Nothing shows either that the server has
read the ack of an empty result, so the next command waits :data:`QUIET`
too (else the two could arrive glued, and both be taken for the ack).

Server checks (netlab is the client): a command's output; an empty result;
a failing command's stderr; output far over the 64 KiB a pipe holds (the
tutorial's server, which reads the pipes after ``wait()``, hangs there);
several commands on one connection.

Client checks (netlab's exec server, in-process, classic mode, on the
exercise port; through the fault proxy for the sliced answer): a command's
output printed; a big output printed whole; an answer whose length and
result arrive in pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram
from lab.proxy.toxics import Slicer

FOLDER = "exercises/04-exec"
QUIET = 0.2  # no more digits for this long: the length is whole
WAIT = 3.0  # a small command's answer takes milliseconds
BIG_WAIT = 4.0  # 30,000 lines of seq take well under a second
PIPE_BUFFER = 64 * 1024
SLICE_MS = 100  # between the length's digits: far longer than a client takes to call recv()


@dataclass(frozen=True)
class Answer:
    """What one classic exchange got: the length (None: none valid), the result, the trouble."""

    length: int | None
    result: bytes
    problem: str = ""


async def _receive(stream: trio.SocketStream, timeout: float) -> bytes | None:
    """One receive within ``timeout``: bytes, ``b""`` at close or reset, None on timeout."""
    with trio.move_on_after(timeout):
        try:
            return await stream.receive_some(65536)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""
    return None


async def read_length(stream: trio.SocketStream, timeout: float) -> tuple[bytes, str]:
    """The digits of a length: the first within ``timeout``, more until ``QUIET`` passes."""
    first = await _receive(stream, timeout)
    if first is None:
        return b"", f"no length within {timeout:g}s"
    if not first:
        return b"", "the connection closed before the length"
    digits = first
    while (more := await _receive(stream, QUIET)) is not None:
        if not more:
            break
        digits += more
    if not digits.isdigit():
        return digits, f"expected the length's ASCII digits before the ack, got {digits[:60]!r}"
    return digits, ""


async def exchange(stream: trio.SocketStream, command: str, *, timeout: float = WAIT) -> Answer:
    """One command the classic way, as a careful client does it."""
    await stream.send_all(command.encode())
    digits, problem = await read_length(stream, timeout)
    if problem:
        return Answer(None, b"", problem)
    length = int(digits)
    await stream.send_all(b"ok")
    if length == 0:
        # Nothing comes back to show the server has read the ack: a next command sent
        # at once could reach it glued to the ok, and be taken for part of the ack. A
        # person typing leaves time between them; so does this client.
        await trio.sleep(QUIET)
    result = bytearray()
    with trio.move_on_after(timeout):
        while len(result) < length:
            chunk = await _receive(stream, timeout)
            if not chunk:
                break
            result += chunk
    if len(result) < length:
        return Answer(length, bytes(result),
                      f"length {length}, then {len(result)} bytes of result")
    return Answer(length, bytes(result))


def _judge(command: str, answer: Answer, expected: bytes, what: str) -> Outcome:
    if answer.problem:
        return Outcome(False, f"sent {command!r}: {answer.problem}")
    if answer.result != expected:
        return Outcome(False, f"sent {command!r}: expected {what} {_short(expected)}, got "
                       f"length {answer.length} and {_short(answer.result)}")
    return Outcome(True, f"sent {command!r}: length {answer.length}, ack, {what}")


def _short(data: bytes) -> str:
    return repr(data) if len(data) <= 60 else f"{data[:40]!r}... ({len(data)} bytes)"


def _token(ctx: CheckContext) -> str:
    return f"{ctx.random.randrange(10000, 99999)}"


def seq_output(last: int) -> bytes:
    return "".join(f"{n}\n" for n in range(1, last + 1)).encode()


# The learner's server ---------------------------------------------------------------------


async def runs_a_command(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    command = f"echo netlab {token}"
    async with ctx.server_program(), await ctx.connect() as stream:
        answer = await exchange(stream, command)
    return _judge(command, answer, f"netlab {token}\n".encode(), "its stdout")


async def zero_length_result(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    async with ctx.server_program(), await ctx.connect() as stream:
        empty = await exchange(stream, "true")
        if empty.problem or empty.length != 0:
            return Outcome(False, "sent 'true' (no output): "
                           + (empty.problem or f"length {empty.length}, expected 0"))
        command = f"echo after {token}"
        answer = await exchange(stream, command)
    outcome = _judge(command, answer, f"after {token}\n".encode(), "its stdout")
    detail = f"'true' answered 0, ack, nothing; then {outcome.detail}"
    return Outcome(outcome.passed, detail)


async def failing_command_returns_stderr(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    command = f"echo out {token}; echo err {token} >&2; exit 3"
    async with ctx.server_program(), await ctx.connect() as stream:
        answer = await exchange(stream, command)
    return _judge(command, answer, f"err {token}\n".encode(),
                  "its stderr (exit status 3: stderr, not stdout)")


async def big_output(ctx: CheckContext) -> Outcome:
    last = ctx.random.randrange(20000, 40000)
    command = f"seq 1 {last}"
    expected = seq_output(last)
    async with ctx.server_program(), await ctx.connect() as stream:
        answer = await exchange(stream, command, timeout=BIG_WAIT)
    if answer.length is None and answer.problem.startswith("no length"):
        return Outcome(False, f"sent {command!r} ({len(expected)} bytes of output, over the "
                       f"{PIPE_BUFFER // 1024} KiB a pipe holds): {answer.problem}")
    return _judge(command, answer, expected, f"all {len(expected)} bytes")


async def serves_several_commands(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    commands = [
        (f"echo first {token}", f"first {token}\n".encode()),
        (f"printf 'no newline {token}'", f"no newline {token}".encode()),
        ("true", b""),
        (f"echo one {token}; echo two {token}", f"one {token}\ntwo {token}\n".encode()),
        ("exit 2", b""),
        (f"echo last {token}", f"last {token}\n".encode()),
    ]
    async with ctx.server_program(), await ctx.connect() as stream:
        for number, (command, expected) in enumerate(commands, 1):
            answer = await exchange(stream, command)
            outcome = _judge(command, answer, expected, "its result")
            if not outcome.passed:
                return Outcome(False, f"command {number} of {len(commands)}, "
                               f"{outcome.detail}")
    return Outcome(True, f"{len(commands)} commands on one connection, empty results "
                   "among them, each answered right")


# The learner's client ---------------------------------------------------------------------


async def _client_prints(ctx: CheckContext, command: str, expected: str, how: str,
                         *, sliced: bool = False, wait: float = WAIT) -> Outcome:
    async with ctx.reference_server("exec") as upstream:
        cut = (Slicer(name="slicer", stream="downstream", average_size=1, delay=SLICE_MS),)
        async with ctx.proxy(upstream, *(cut if sliced else ()), listen_port=ctx.port), \
                ctx.client_program() as program:
            await program.send_line(command)
            printed = await program.wait_output(expected, wait)
    if printed:
        return Outcome(True, f"{how}: typed {command!r}, the whole result was printed")
    return Outcome(False, f"{how}: typed {command!r}; expected {_short(expected.encode())}, "
                   f"the client printed {_short(program.output.encode())}" + _stderr(program))


def _stderr(program: LearnerProgram) -> str:
    tail = program.stderr_tail(2)
    return f"; stderr: {tail}" if tail else ""


async def prints_the_result(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    return await _client_prints(ctx, f"echo hello {token}", f"hello {token}\n",
                                "the answer as netlab's exec server sends it")


async def prints_big_output(ctx: CheckContext) -> Outcome:
    last = ctx.random.randrange(20000, 40000)
    expected = seq_output(last).decode()
    return await _client_prints(ctx, f"seq 1 {last}", expected,
                                f"a result of {len(expected)} bytes", wait=BIG_WAIT)


async def sliced_answer(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    text = f"sliced {token}"
    return await _client_prints(
        ctx, f"echo {text}", f"{text}\n",
        f"the answer cut into 1-byte pieces {SLICE_MS} ms apart (the length's digits too)",
        sliced=True)


EXERCISE = Exercise(
    number=4,
    id="exec",
    title="Remote exec: the ack trick, the 64 KiB pipe, and a length without an end",
    doc="docs/exercises/04-exec.md",
    checks=(
        Check("runs-a-command", "server",
              "the classic exec exchange: length, ack, result",
              "run the command with a shell, send the result's length as ASCII digits, wait "
              "for the client's ack (one recv()), then send the result; send nothing else "
              "before the ack",
              runs_a_command),
        Check("zero-length-result", "server",
              "an empty result is a valid answer",
              "a command with no output is answered 0, then the ack is read, then nothing is "
              "sent; the connection then serves the next command",
              zero_length_result),
        Check("failing-command-returns-stderr", "server",
              "the result is stdout if the exit status is 0, else stderr",
              "when the command's exit status is not 0 the result is its stderr (and only "
              "that): look at the return code",
              failing_command_returns_stderr),
        Check("big-output", "server",
              "a pipe holds 64 KiB: read a child's output while it runs",
              "read the pipe only after wait(): past the 64 KiB pipe buffer the command "
              "blocks writing and never exits, and wait() never returns; read the output "
              "while it runs (subprocess.run(..., capture_output=True) or communicate())",
              big_output),
        Check("serves-several-commands", "server",
              "one connection carries many exchanges",
              "loop on the connection: after a result, recv() the next command (an empty "
              "result included) until the client closes",
              serves_several_commands),
        Check("prints-the-result", "client",
              "the classic exec exchange from the client's side: command, length, ok, result",
              "send the command, read the length, send ok, then read and print the result",
              prints_the_result),
        Check("prints-big-output", "client",
              "a big result comes in many recv() calls",
              "read the result until you have as many bytes as the length said (recv() "
              "returns at most what has arrived), then print it",
              prints_big_output),
        Check("sliced-answer", "client",
              "TCP is a byte stream: the length's digits can arrive in pieces, and nothing "
              "ends them",
              "assumed one recv() holds the whole length: its digits can arrive in pieces "
              "(1, then 2 of 12); the server sends nothing else before your ack, so read "
              "digits until it falls quiet (a short timeout), then send ok",
              sliced_answer),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "big-output": "read the pipe only after wait()",
        }),
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "sliced-answer": "assumed one recv() holds the whole length",
        }),
    ),
)
