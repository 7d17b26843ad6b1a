"""The exec protocol (netlab mode), sans-IO: one class for both ends (model: h11).

Theory of operation. After the preface the client sends one RUN at a time
and waits for its end; both ends run the same table, ``TRANSITIONS``, keyed
by (state, sender, message type), so each knows what the other may send::

    IDLE ──RUN──▶ REQUESTED ──QUEUED*──▶ REQUESTED ──STARTED──▶ RUNNING
      ▲              │ ERROR (not fatal)                           │ STDOUT*, STDERR*
      │◀─────────────┘                                             │ STDIN*, STDIN_EOF, CANCEL
      │◀────────────────────────────── EXIT ───────────────────────┘
    any ──ERROR (fatal)──▶ CLOSED

A command that was STARTED ends with EXIT (unless a fatal ERROR closes the
connection); a RUN that never started ends with ERROR. Only an ERROR that
answers a RUN (in ``ANSWERING_STATES``) may be not fatal: an unsolicited
ERROR (in IDLE) and an ERROR while RUNNING are always fatal. Every ERROR the
server sends says ``fatal``; one without it (an older server) is read as
the state says. The codes the server may send, and whether each is fatal,
are ``ERRORS`` (:mod:`services.remote_exec.events`); sending one against it
raises :class:`LocalProtocolError`.

A kind only the other side sends is ``unexpected-message`` from its first
byte, like a message the table does not allow now (a second RUN before the
first one's EXIT or ERROR); an unknown kind is ``bad-message``.

The client may send STDIN and STDIN_EOF only after STARTED, only if its RUN
asked for stdin, and nothing after STDIN_EOF; CANCEL while REQUESTED or
RUNNING. Because these can cross an EXIT (or a non-fatal ERROR) on the wire,
the server silently drops the ones that arrive in IDLE right after a run,
until the next RUN.
"""

from __future__ import annotations

import enum

from services.remote_exec.codec import (
    CLIENT_KINDS,
    CONTROL_KINDS,
    DATA_KINDS,
    KIND_OF,
    Kind,
    decode_payload,
    encode_payload,
)
from services.remote_exec.events import (
    ERRORS,
    Cancel,
    Error,
    Event,
    Exit,
    Queued,
    Run,
    Started,
    Stderr,
    Stdin,
    StdinEof,
    Stdout,
)
from services.wire.errors import ErrorCode, check_sent
from services.wire.frames import MAX_JSON_PAYLOAD, Frame, FrameBuffer, FrameLimits, encode_frame
from services.wire.protocol import Connection, Role
from services.wire.sentinels import Closed, NeedData

DATA_FRAME_LIMIT = 1 << 20  # largest STDIN/STDOUT/STDERR payload either end accepts


class State(enum.Enum):
    IDLE = "idle"
    REQUESTED = "requested"
    RUNNING = "running"
    CLOSED = "closed"


C, S = Role.CLIENT, Role.SERVER
TRANSITIONS: dict[tuple[State, Role, type], State] = {
    (State.IDLE, C, Run): State.REQUESTED,
    (State.IDLE, S, Error): State.CLOSED,
    (State.REQUESTED, C, Cancel): State.REQUESTED,
    (State.REQUESTED, S, Queued): State.REQUESTED,
    (State.REQUESTED, S, Started): State.RUNNING,
    (State.REQUESTED, S, Error): State.IDLE,  # CLOSED if the ERROR is fatal
    (State.RUNNING, C, Stdin): State.RUNNING,
    (State.RUNNING, C, StdinEof): State.RUNNING,
    (State.RUNNING, C, Cancel): State.RUNNING,
    (State.RUNNING, S, Stdout): State.RUNNING,
    (State.RUNNING, S, Stderr): State.RUNNING,
    (State.RUNNING, S, Exit): State.IDLE,
    (State.RUNNING, S, Error): State.CLOSED,
}
# The states in which an ERROR answers the client's RUN: only there may it be not fatal.
ANSWERING_STATES = frozenset({State.REQUESTED})


def payload_limits(data_frame_limit: int) -> dict[Kind, int]:
    """The largest payload of each kind; STDIN_EOF and CANCEL carry none."""
    return {kind: data_frame_limit if kind in DATA_KINDS
            else MAX_JSON_PAYLOAD if kind in CONTROL_KINDS else 0 for kind in Kind}


class ExecConnection(Connection[State, Event]):
    """One end of an exec conversation: bytes in, events out, events in, bytes out."""

    def __init__(self, role: Role, *, data_frame_limit: int = DATA_FRAME_LIMIT) -> None:
        self.data_frame_limit = data_frame_limit
        self._limits = payload_limits(data_frame_limit)
        peer_kinds = CLIENT_KINDS if role is S else frozenset(Kind) - CLIENT_KINDS
        # Kinds only our own side sends are refused from their first byte.
        self._frames = FrameBuffer(FrameLimits({k: self._limits[k] for k in peer_kinds},
                                               wrong_side=frozenset(Kind) - peer_kinds))
        super().__init__(role, TRANSITIONS, State.IDLE, self._frames)
        self.stdin_open = False  # the current run takes STDIN and has not ended it
        self._stale_ok = False  # in IDLE right after a run: in-flight client frames dropped
        self._stale_stdin = False

    def _account(self, sender: Role, event: Event, new_state: State) -> State:
        """Stdin open or not, fatal errors, and what may still cross the end of a run."""
        if isinstance(event, Stdin | StdinEof) and not self.stdin_open:
            self._fail(sender, ErrorCode.UNEXPECTED,
                       f"{type(event).__name__} but the command's stdin is not open")
        if isinstance(event, Run):
            self.stdin_open = event.stdin
            self._stale_ok = self._stale_stdin = False
        elif isinstance(event, StdinEof):
            self.stdin_open = False
        elif isinstance(event, Error):
            if self.state not in ANSWERING_STATES and not event.fatal:
                self._fail(sender, ErrorCode.BAD_MESSAGE,
                           f"ERROR in state {self.state.value} must be fatal")
            if sender is self.role:
                check_sent(ERRORS, event.code, event.fatal)
            if event.fatal:
                new_state = State.CLOSED
        if new_state is State.IDLE and self.state is not State.IDLE:
            self._stale_ok, self._stale_stdin = True, self.stdin_open
            self.stdin_open = False
        return new_state

    def _is_stale(self, event: Event) -> bool:
        """A client frame that crossed the end of the previous run (server side only)."""
        if self.role is not S or self.state is not State.IDLE or not self._stale_ok:
            return False
        if isinstance(event, Cancel):
            return True
        if isinstance(event, Stdin | StdinEof) and self._stale_stdin:
            if isinstance(event, StdinEof):
                self._stale_stdin = False
            return True
        return False

    def _read_event(self) -> Event | NeedData | Closed:
        while True:
            frame = self._frames.next_frame()
            if not isinstance(frame, Frame):
                # No kind is streamed: the buffer hands out whole frames only.
                assert isinstance(frame, NeedData | Closed)
                return frame
            event = decode_payload(Kind(frame.kind), frame.payload,
                                   fatal_default=self.state not in ANSWERING_STATES)
            if not self._is_stale(event):
                return event

    def _encode(self, event: Event) -> bytes:
        kind = KIND_OF[type(event)]
        return encode_frame(kind, encode_payload(event), max_payload=self._limits[kind])


__all__ = ["ANSWERING_STATES", "DATA_FRAME_LIMIT", "TRANSITIONS", "ExecConnection", "Role",
           "State"]
