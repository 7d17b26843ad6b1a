"""An exec client written from docs/reference/protocol/exec.md (and the overview) alone.

Kinds, fields, states and answers are the reference's; every message the
server sends is checked against them (:class:`~tests.independent.wire.Violation`
when it breaks one). Blocking sockets, as a user's own client would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.independent.wire import (
    MAX_CONTROL,
    MAX_DATA,
    Closed,
    Peer,
    ServerError,
    Violation,
    decode_json,
    error_from,
    preface,
)
from tests.independent.wire import field as get

RUN, STDIN, STDIN_EOF, CANCEL = 0x01, 0x02, 0x03, 0x04
QUEUED, STARTED, STDOUT, STDERR, EXIT, ERROR = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
SERVER_KINDS = {QUEUED: MAX_CONTROL, STARTED: MAX_CONTROL, STDOUT: MAX_DATA, STDERR: MAX_DATA,
                EXIT: MAX_CONTROL, ERROR: MAX_CONTROL}
REASONS = {"exit", "signal", "timeout", "output-limit", "cancelled", "shutdown"}
# What the server may send in each state (the reference's state table).
ALLOWED = {
    "IDLE": {ERROR},
    "REQUESTED": {QUEUED, STARTED, ERROR},
    "RUNNING": {STDOUT, STDERR, EXIT, ERROR},
}


@dataclass
class Outcome:
    """What the server said about one RUN."""

    queued: list[dict[str, Any]] = field(default_factory=list)
    started: dict[str, Any] | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    exit: dict[str, Any] | None = None


def check_started(obj: dict[str, Any]) -> dict[str, Any]:
    if get(obj, "pid", "integer") < 1:
        raise Violation(f"pid {obj['pid']} below 1")
    if get(obj, "timeout", "number") <= 0:
        raise Violation("STARTED timeout not > 0")
    get(obj, "output_limit", "integer")
    return obj


def check_queued(obj: dict[str, Any]) -> dict[str, Any]:
    if get(obj, "position", "integer") < 1:
        raise Violation("QUEUED position below 1")
    if get(obj, "timeout", "number") <= 0:
        raise Violation("QUEUED timeout not > 0")
    return obj


def check_exit(obj: dict[str, Any]) -> dict[str, Any]:
    status = get(obj, "status", "integer", required=False)
    signal = get(obj, "signal", "string", required=False)
    if (status is None) == (signal is None):
        raise Violation(f"EXIT must carry exactly one of status and signal: {obj}")
    if status is not None and not 0 <= status <= 255:
        raise Violation(f"EXIT status {status} out of 0-255")
    if get(obj, "reason", "string") not in REASONS:
        raise Violation(f"unknown EXIT reason {obj['reason']!r}")
    if get(obj, "elapsed", "number") < 0:
        raise Violation("EXIT elapsed below 0")
    get(obj, "stdout_bytes", "integer")
    get(obj, "stderr_bytes", "integer")
    return obj


class ExecClient:
    """One connection in netlab mode; ``state`` follows the reference's table."""

    def __init__(self, host: str, port: int, *, timeout: float = 10.0,
                 send_preface: bool = True) -> None:
        self.peer = Peer(host, port, timeout=timeout)
        self.state = "IDLE"
        if send_preface:
            self.peer.send(preface("exec"))

    def close(self) -> None:
        self.peer.close()

    def __enter__(self) -> ExecClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------
    def send_run(self, command: str, token: str, *, timeout: float | None = None,
                 stdin: bool = False, **extra: Any) -> None:
        run: dict[str, Any] = {"command": command, "token": token, **extra}
        if timeout is not None:
            run["timeout"] = timeout
        if stdin:
            run["stdin"] = True
        self.peer.send_json(RUN, run)
        self.state = "REQUESTED"

    def send_stdin(self, data: bytes) -> None:
        self.peer.send_frame(STDIN, data)

    def send_stdin_eof(self) -> None:
        self.peer.send_frame(STDIN_EOF)

    def cancel(self) -> None:
        self.peer.send_frame(CANCEL)

    # -- receiving --------------------------------------------------------------
    def receive(self) -> tuple[int, Any]:
        """The next message, checked against the state; an ERROR raises :class:`ServerError`."""
        kind, payload = self.peer.read_frame(SERVER_KINDS)
        if kind not in ALLOWED[self.state]:
            raise Violation(f"kind 0x{kind:02x} in state {self.state}")
        if kind in (STDOUT, STDERR):
            return kind, payload
        obj = decode_json(payload)
        if kind == ERROR:
            error = error_from(obj, answering=self.state == "REQUESTED")
            self.state = "CLOSED" if error.fatal else "IDLE"
            raise error
        if kind == QUEUED:
            return kind, check_queued(obj)
        if kind == STARTED:
            self.state = "RUNNING"
            return kind, check_started(obj)
        self.state = "IDLE"
        return kind, check_exit(obj)

    def finish(self, outcome: Outcome | None = None, *, stdin: bytes | None = None,
               cancel_on_start: bool = False, cancel_on_queued: bool = False) -> Outcome:
        """Read the answers to the RUN sent until EXIT (an ERROR raises)."""
        outcome = outcome or Outcome()
        while True:
            kind, message = self.receive()
            if kind == QUEUED:
                outcome.queued.append(message)
                if cancel_on_queued:
                    self.cancel()
            elif kind == STARTED:
                outcome.started = message
                if stdin is not None:
                    self.send_stdin(stdin)
                    self.send_stdin_eof()
                if cancel_on_start:
                    self.cancel()
            elif kind == STDOUT:
                outcome.stdout += message
            elif kind == STDERR:
                outcome.stderr += message
            else:
                outcome.exit = message
                self._check_counts(outcome)
                return outcome

    def run(self, command: str, token: str, *, timeout: float | None = None,
            stdin: bytes | None = None, cancel_on_start: bool = False) -> Outcome:
        """RUN ``command`` and read everything until its EXIT."""
        self.send_run(command, token, timeout=timeout, stdin=stdin is not None)
        return self.finish(stdin=stdin, cancel_on_start=cancel_on_start)

    @staticmethod
    def _check_counts(outcome: Outcome) -> None:
        assert outcome.exit is not None and outcome.started is not None
        if outcome.exit["stdout_bytes"] != len(outcome.stdout):
            raise Violation("EXIT stdout_bytes is not the bytes of the STDOUT frames")
        if outcome.exit["stderr_bytes"] != len(outcome.stderr):
            raise Violation("EXIT stderr_bytes is not the bytes of the STDERR frames")
        if len(outcome.stdout) + len(outcome.stderr) > outcome.started["output_limit"]:
            raise Violation("more output than STARTED's output_limit")

    def expect_error(self, *, skip: int = 0) -> ServerError:
        """The ERROR that must come next, after at most ``skip`` other messages."""
        for _ in range(skip + 1):
            try:
                kind, message = self.receive()
            except ServerError as error:
                return error
        raise AssertionError(f"expected an ERROR, got kind 0x{kind:02x} {message!r}")

    def closed(self) -> bool:
        """The server has closed the connection (nothing more came)."""
        try:
            return self.peer.at_eof()
        except Closed:
            return True
