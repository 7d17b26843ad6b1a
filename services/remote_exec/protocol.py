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
connection); a RUN that never started ends with ERROR. An unsolicited ERROR
(in IDLE) and an ERROR while RUNNING are always fatal.

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
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.frames import HEADER, HEADER_SIZE, MAX_JSON_PAYLOAD
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

DATA_FRAME_LIMIT = 1 << 20  # largest STDIN/STDOUT/STDERR payload either end accepts


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


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
# Client messages that may cross the end of a run on the wire.
IN_FLIGHT = (Stdin, StdinEof, Cancel)


class ExecConnection:
    """One end of an exec conversation: bytes in, events out, events in, bytes out."""

    def __init__(self, role: Role, *, data_frame_limit: int = DATA_FRAME_LIMIT) -> None:
        self.role = role
        self.peer_role = S if role is C else C
        self.data_frame_limit = data_frame_limit
        self.state = State.IDLE
        self.stdin_open = False  # the current run takes STDIN and has not ended it
        self._stale_ok = False  # in IDLE right after a run: in-flight client frames dropped
        self._stale_stdin = False
        self._buffer = bytearray()
        self._eof = False
        self._broken: RemoteProtocolError | None = None
        peer_kinds = CLIENT_KINDS if role is S else frozenset(Kind) - CLIENT_KINDS
        self._peer_kinds = {int(kind) for kind in peer_kinds}

    # -- state -------------------------------------------------------------
    def _advance(self, sender: Role, event: Event) -> None:
        local = sender is self.role
        new_state = TRANSITIONS.get((self.state, sender, type(event)))
        if new_state is None:
            name = type(event).__name__
            self._fail(local, ErrorCode.UNEXPECTED,
                       f"{name} from the {sender.value} in state {self.state.value}")
            return
        if isinstance(event, Stdin | StdinEof) and not self.stdin_open:
            self._fail(local, ErrorCode.UNEXPECTED,
                       f"{type(event).__name__} but the command's stdin is not open")
        if isinstance(event, Run):
            self.stdin_open = event.stdin
            self._stale_ok = self._stale_stdin = False
        elif isinstance(event, StdinEof):
            self.stdin_open = False
        elif isinstance(event, Error):
            if (self.state is State.IDLE or self.state is State.RUNNING) and not event.fatal:
                self._fail(local, ErrorCode.BAD_MESSAGE,
                           f"ERROR in state {self.state.value} must be fatal")
            if event.fatal:
                new_state = State.CLOSED
        if new_state is State.IDLE and self.state is not State.IDLE:
            self._stale_ok, self._stale_stdin = True, self.stdin_open
            self.stdin_open = False
        self.state = new_state

    @staticmethod
    def _fail(local: bool, code: ErrorCode, message: str) -> None:
        if local:
            raise LocalProtocolError(ErrorCode.BAD_STATE if code is ErrorCode.UNEXPECTED
                                     else code, message)
        raise RemoteProtocolError(code, message)

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

    # -- receiving -----------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("data received after EOF")
            return
        if not data:
            self._eof = True
        else:
            self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in an event."""
        return len(self._buffer)

    def next_event(self) -> Event | NeedData | Closed:
        """The next event from the peer, ``NEED_DATA`` or ``CLOSED``.

        Raises :class:`RemoteProtocolError` (and stays broken) if the peer
        broke the protocol.
        """
        if self._broken is not None:
            raise self._broken
        try:
            while True:
                event = self._next_frame()
                if isinstance(event, NeedData | Closed) or not self._is_stale(event):
                    if not isinstance(event, NeedData | Closed):
                        self._advance(self.peer_role, event)
                    return event
        except RemoteProtocolError as exc:
            self._broken = exc
            raise

    def _next_frame(self) -> Event | NeedData | Closed:
        if len(self._buffer) < HEADER_SIZE:
            if not self._buffer and self._eof:
                return CLOSED
            if self._buffer and self._buffer[0] not in self._peer_kinds:
                raise self._unknown_kind(self._buffer[0])
            return self._need_data_or_truncated()
        kind_byte, length = HEADER.unpack_from(self._buffer)
        if kind_byte not in self._peer_kinds:
            raise self._unknown_kind(kind_byte)
        kind = Kind(kind_byte)
        # Checked at the header, before any payload is buffered.
        limit = (self.data_frame_limit if kind in DATA_KINDS
                 else MAX_JSON_PAYLOAD if kind in CONTROL_KINDS else 0)
        if length > limit:
            raise RemoteProtocolError(
                ErrorCode.FRAME_TOO_LARGE, f"{kind.name} frame of {length} bytes exceeds {limit}"
            )
        end = HEADER_SIZE + length
        if len(self._buffer) < end:
            return self._need_data_or_truncated()
        payload = bytes(self._buffer[HEADER_SIZE:end])
        del self._buffer[:end]
        return decode_payload(kind, payload)

    def _unknown_kind(self, kind: int) -> RemoteProtocolError:
        return RemoteProtocolError(
            ErrorCode.BAD_MESSAGE,
            f"unknown message kind 0x{kind:02x} from the {self.peer_role.value}",
        )

    def _need_data_or_truncated(self) -> NeedData:
        if self._eof:
            raise RemoteProtocolError(ErrorCode.TRUNCATED, "connection closed inside a frame")
        return NEED_DATA

    # -- sending ---------------------------------------------------------------
    def send(self, event: Event) -> bytes:
        """The bytes of ``event``; raises :class:`LocalProtocolError` if not allowed now."""
        payload = encode_payload(event)
        kind = KIND_OF[type(event)]
        limit = self.data_frame_limit if kind in DATA_KINDS else MAX_JSON_PAYLOAD
        if len(payload) > limit:
            raise LocalProtocolError(
                ErrorCode.FRAME_TOO_LARGE, f"{kind.name} payload of {len(payload)} bytes"
            )
        self._advance(self.role, event)
        return HEADER.pack(kind, len(payload)) + payload


__all__ = ["DATA_FRAME_LIMIT", "TRANSITIONS", "ExecConnection", "Role", "State"]
