"""The tutorial's exec bytes (classic mode), sans-IO.

The exchange, per command (see ``docs/reference/protocol/classic.md``): the client sends the
command with one ``send``; the server runs it and answers with the result's
length as ASCII digits, waits for one ``recv`` of anything (the client's
``ok``), then sends the result: stdout if the exit status is 0, else stderr
(:func:`choose_result`). Several commands per connection; an empty result is
``0``, ack, nothing.

There is no framing: one receive is one command, as in the tutorial's server,
and one receive of anything is the ack, with one exception: an ack that
starts with ``ok`` (what the tutorial's client sends) followed by more than
whitespace carries the start of the next command (:class:`Acked`). After an
empty result the client sends ``ok`` and its next command at once; a relay
on the way (the lab's gateway) may deliver both in one segment, and the
command must not be lost in the ack. :class:`ClassicExchange` keeps the
turns (command, length, ack, result) and raises :class:`LocalProtocolError`
if the server code calls them out of order. What netlab adds (a command it
refuses or had to end) travels as a ``netlab:`` line in the result, because a
classic client has nowhere else to read it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.remote_exec.outcome import Limits, Outcome, Stop
from services.wire.errors import ErrorCode, LocalProtocolError
from services.wire.sentinels import CLOSED, Closed

ACK = b"ok"
"""The tutorial client's ack; bytes after it in the same receive begin the next command."""


class Turn(enum.Enum):
    COMMAND = "command"  # waiting for the client's next command
    RUNNING = "running"  # a command is in; its answer is not sent yet
    ACK = "ack"  # the length is sent; waiting for the client's ack
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Command:
    """A command to run: the bytes of one receive."""

    text: bytes


@dataclass(frozen=True, slots=True)
class BadCommand:
    """A command the server refuses to run; ``answer`` is the result the client gets."""

    answer: bytes


@dataclass(frozen=True, slots=True)
class Acked:
    """The client acked: ``result`` goes out now.

    ``rest``: what came after a leading ``ok`` in the same receive, the start
    of the client's next command (``b""`` if none, or only whitespace).
    """

    result: bytes
    rest: bytes = b""


def split_ack(chunk: bytes) -> tuple[bytes, bytes]:
    """``chunk`` (one receive at the ack's turn) as ``(ack, rest of the stream)``.

    A leading ``ok`` is the ack and the bytes after it begin the next
    command, unless they are only whitespace (``ok\\n`` from a line-minded
    client). Any other receive is all ack, as the tutorial's server takes it.
    """
    if chunk.startswith(ACK) and chunk[len(ACK):].strip():
        return ACK, chunk[len(ACK):]
    return chunk, b""


def note(text: str) -> bytes:
    """A line netlab adds to a result, for a classic client to read."""
    return f"netlab: {text}\n".encode()


CLASSIC_OFF = note("classic mode is off on this server; use `netlab exec run`")


def choose_result(outcome: Outcome, stdout: bytes, stderr: bytes, limits: Limits) -> bytes:
    """The tutorial's rule (stdout if status 0, else stderr), plus why netlab ended it."""
    if outcome.stop is Stop.EXITED:
        return stdout if outcome.status == 0 else stderr
    notes = {
        Stop.TIMEOUT: f"command killed after {limits.timeout:g} s (time limit)",
        Stop.OUTPUT_LIMIT: f"command killed: output over {limits.output_limit} bytes",
        Stop.SHUTDOWN: "server shutting down; command killed",
    }
    separator = b"" if not stderr or stderr.endswith(b"\n") else b"\n"
    return stderr + separator + note(notes.get(outcome.stop, "command cancelled"))


class ClassicExchange:
    """The server's end of the tutorial's exchange: commands in, lengths and results out."""

    def __init__(self) -> None:
        self.turn = Turn.COMMAND
        self._result = b""

    def receive_command(self, chunk: bytes) -> Command | BadCommand | Closed:
        """What one receive from the client means; ``b""``: it left."""
        self._expect(Turn.COMMAND)
        if not chunk:
            self.turn = Turn.CLOSED
            return CLOSED
        self.turn = Turn.RUNNING
        if b"\x00" in chunk:  # no shell command holds one; execve would refuse it
            return BadCommand(note("bad command (NUL byte)"))
        return Command(chunk)

    def send_length(self, result: bytes) -> bytes:
        """The bytes announcing ``result``: its length in ASCII digits."""
        self._expect(Turn.RUNNING)
        self.turn = Turn.ACK
        self._result = result
        return str(len(result)).encode("ascii")

    def receive_ack(self, chunk: bytes) -> Acked | Closed:
        """The result to send now that the client acked; ``CLOSED`` if it left instead.

        A non-empty :attr:`Acked.rest` is the next command's first receive:
        pass it to :meth:`receive_command` once the result is sent.
        """
        self._expect(Turn.ACK)
        result, self._result = self._result, b""
        if not chunk:
            self.turn = Turn.CLOSED
            return CLOSED
        self.turn = Turn.COMMAND
        return Acked(result, split_ack(chunk)[1])

    def _expect(self, turn: Turn) -> None:
        if self.turn is not turn:
            raise LocalProtocolError(
                ErrorCode.BAD_STATE, f"{turn.value} expected, but the turn is {self.turn.value}"
            )
