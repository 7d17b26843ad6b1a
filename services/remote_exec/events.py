"""The exec protocol's messages (netlab mode) as small frozen dataclasses.

Each event is one frame on the wire; :mod:`services.remote_exec.codec` maps
them to kind bytes and JSON fields, ``docs/reference/protocol/exec.md`` shows the bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from services.wire.errors import FRAMED_PROTOCOL_ERRORS, ErrorSpec, error_table


class ExecErrorCode(enum.StrEnum):
    """Error codes of the exec service, in addition to the wire layer's codes."""

    AUTH_FAILED = "auth-failed"
    BUSY = "busy"
    BAD_COMMAND = "bad-command"
    SPAWN_FAILED = "spawn-failed"
    CANCELLED = "cancelled"
    SHUTTING_DOWN = "shutting-down"
    IDLE_TIMEOUT = "idle-timeout"


# Every code an exec server sends, whether the connection closes after it, and when.
ERRORS = error_table((
    *FRAMED_PROTOCOL_ERRORS,
    ErrorSpec(ExecErrorCode.AUTH_FAILED, True,
              "a RUN with a wrong or missing token, or any RUN from an address that sent "
              "--auth-max-failures wrong tokens within a minute (for --auth-block seconds)"),
    ErrorSpec(ExecErrorCode.BUSY, None,
              "answering a RUN: every slot stayed busy for --queue-timeout, or --max-queued "
              "RUNs already wait (not fatal); on accept past --max-clients (fatal)"),
    ErrorSpec(ExecErrorCode.BAD_COMMAND, False,
              "answering a RUN whose command is empty (or only white space) or holds NUL"),
    ErrorSpec(ExecErrorCode.SPAWN_FAILED, False, "answering a RUN: the shell could not start"),
    ErrorSpec(ExecErrorCode.CANCELLED, False,
              "answering a RUN cancelled (CANCEL) while it waited for a slot"),
    ErrorSpec(ExecErrorCode.SHUTTING_DOWN, True,
              "the server is shutting down: unprompted, or answering a RUN"),
    ErrorSpec(ExecErrorCode.IDLE_TIMEOUT, True, "no RUN for --idle-timeout seconds"),
))


class Reason(enum.StrEnum):
    """Why a started command ended (the ``reason`` of EXIT)."""

    EXIT = "exit"  # exited on its own; ``status`` holds its exit status
    SIGNAL = "signal"  # died of a signal netlab did not send
    TIMEOUT = "timeout"  # ran past its wall-time limit; netlab killed its group
    OUTPUT_LIMIT = "output-limit"  # printed more than the output cap; killed
    CANCELLED = "cancelled"  # the client sent CANCEL; killed
    SHUTDOWN = "shutdown"  # the server shut down; killed after the grace period


# -- client → server -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """Run ``command`` with ``/bin/sh -c``. ``stdin``: the client will send STDIN frames."""

    command: str
    token: str = field(repr=False)
    timeout: float | None = None
    stdin: bool = False


@dataclass(frozen=True, slots=True)
class Stdin:
    """Bytes for the running command's standard input."""

    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Stdin(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class StdinEof:
    """The command's standard input ends (its stdin pipe is closed)."""


@dataclass(frozen=True, slots=True)
class Cancel:
    """Kill the queued or running command (EXIT ``cancelled`` or ERROR ``cancelled`` follows)."""


# -- server → client -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Queued:
    """Every slot is busy: the command waits, ``position``-th in line, at most ``timeout`` s."""

    position: int
    timeout: float


@dataclass(frozen=True, slots=True)
class Started:
    """The command runs as process group ``pid``, under these limits."""

    pid: int
    timeout: float
    output_limit: int


@dataclass(frozen=True, slots=True)
class Stdout:
    """Bytes the command wrote to its standard output, in order."""

    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Stdout(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class Stderr:
    """Bytes the command wrote to its standard error, in order."""

    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Stderr(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class Exit:
    """The command's process group is gone: how it ended and how much it printed.

    Exactly one of ``status`` (exit status, 0-255) and ``signal`` (a name such
    as ``SIGKILL``) is set. ``reason`` says whether netlab ended it.
    """

    status: int | None
    signal: str | None
    reason: Reason
    elapsed: float = 0.0
    stdout_bytes: int = 0
    stderr_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Error:
    """A refusal or failure. ``fatal``: the server closes the connection after it.

    ``code`` is one of :data:`ERRORS` (a client accepts codes it does not
    know); only an ERROR answering a RUN may be not fatal.
    """

    code: str
    message: str = ""
    fatal: bool = False


ClientEvent = Run | Stdin | StdinEof | Cancel
ServerEvent = Queued | Started | Stdout | Stderr | Exit | Error
Event = ClientEvent | ServerEvent
