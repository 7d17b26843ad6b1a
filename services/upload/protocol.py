"""The upload protocol (netlab mode), sans-IO: one class for both ends (model: h11).

Theory of operation. After the preface the client sends one request at a
time and waits for its answer; the conversation's state is a table,
``TRANSITIONS``, keyed by (state, sender, message type). Both ends run the
same table, so each knows what the other may send next::

    IDLE ──PUT──▶ PUT_SENT ──READY──▶ UPLOADING ──DATA*, END──▶ UPLOAD_ENDED
      ▲              │ERROR               │ERROR (fatal)             │STORED | ERROR
      │◀─────────────┘                    ▼                          │
      │◀────────────────────────────── CLOSED ◀── (fatal errors)     │
      │◀─────────────────────────────────────────────────────────────┘
    IDLE ──LIST──▶ LIST_SENT ──LISTING*──▶ … ──END | ERROR──▶ IDLE
    IDLE ──STAT──▶ STAT_SENT ──INFO | ERROR──▶ IDLE
    IDLE ──GET──▶ GET_SENT ──META──▶ DOWNLOADING ──DATA*, END──▶ IDLE
                     └──ERROR──▶ IDLE          └──ERROR (fatal)──▶ CLOSED

An ERROR that *answers* a request (in ``ANSWERING_STATES``) leaves the
connection usable unless it says ``"fatal": true`` (a disk failure, the
server shutting down). An ERROR while bytes flow (UPLOADING, DOWNLOADING)
or unprompted (IDLE: shutting down, idle timeout) must be fatal: the server
closes the connection after it. Every ERROR the server sends says
``fatal``; one without it (an older server) is read as the state says. The
codes the server may send, and whether each is fatal, are ``ERRORS``
(:mod:`services.upload.events`); sending one against it raises
:class:`LocalProtocolError`.

A kind only the other side sends is ``unexpected-message`` from its first
byte, like a message the table does not allow now (a second request before
the first one's answer has ended); an unknown kind is ``bad-message``.
:meth:`UploadConnection.early_bytes` tells the server of bytes received
after a request (or an upload's END) and before its answer: the client may
send nothing then, so they are a message sent ahead of time.

The digest is part of the state too: a PUT declares the file's SHA-256, or
leaves it out and its END carries it (the client hashes while it sends);
never both, never neither.

The byte counts are part of the state: an upload carries exactly
``size - offset`` bytes (more is ``size-mismatch``, fatal; END before that
is answered with ``size-mismatch`` and the connection stays usable), a
download exactly ``size - offset``.

DATA payloads are streamed: ``next_event`` returns ``Data`` with whatever
part of a DATA frame has arrived, so memory stays bounded by what the caller
feeds in, never by the frame size.
"""

from __future__ import annotations

import enum

from services.upload.codec import KIND_OF, Kind, decode_payload, encode_payload
from services.upload.events import (
    ERRORS,
    Data,
    End,
    Error,
    Event,
    Get,
    Info,
    ListFiles,
    Listing,
    Meta,
    Put,
    Ready,
    Stat,
    Stored,
    UploadErrorCode,
)
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError, check_sent
from services.wire.frames import (
    MAX_JSON_PAYLOAD,
    Frame,
    FrameBuffer,
    FrameLimits,
    StreamPart,
    encode_frame,
    encode_header,
)
from services.wire.protocol import Connection, Role
from services.wire.sentinels import Closed, NeedData

DATA_FRAME_LIMIT = 1 << 20  # largest DATA payload either end accepts (1 MiB)


class State(enum.Enum):
    IDLE = "idle"
    PUT_SENT = "put-sent"
    UPLOADING = "uploading"
    UPLOAD_ENDED = "upload-ended"
    LIST_SENT = "list-sent"
    STAT_SENT = "stat-sent"
    GET_SENT = "get-sent"
    DOWNLOADING = "downloading"
    BROKEN = "broken"  # the peer broke the protocol; only a fatal ERROR may follow
    CLOSED = "closed"


C, S = Role.CLIENT, Role.SERVER
TRANSITIONS: dict[tuple[State, Role, type], State] = {
    (State.IDLE, C, Put): State.PUT_SENT,
    (State.IDLE, C, ListFiles): State.LIST_SENT,
    (State.IDLE, C, Stat): State.STAT_SENT,
    (State.IDLE, C, Get): State.GET_SENT,
    (State.IDLE, S, Error): State.CLOSED,
    (State.PUT_SENT, S, Ready): State.UPLOADING,
    (State.PUT_SENT, S, Error): State.IDLE,
    (State.UPLOADING, C, Data): State.UPLOADING,
    (State.UPLOADING, C, End): State.UPLOAD_ENDED,
    (State.UPLOADING, S, Error): State.CLOSED,
    (State.UPLOAD_ENDED, S, Stored): State.IDLE,
    (State.UPLOAD_ENDED, S, Error): State.IDLE,
    (State.LIST_SENT, S, Listing): State.LIST_SENT,
    (State.LIST_SENT, S, End): State.IDLE,
    (State.LIST_SENT, S, Error): State.IDLE,
    (State.STAT_SENT, S, Info): State.IDLE,
    (State.STAT_SENT, S, Error): State.IDLE,
    (State.GET_SENT, S, Meta): State.DOWNLOADING,
    (State.GET_SENT, S, Error): State.IDLE,
    (State.DOWNLOADING, S, Data): State.DOWNLOADING,
    (State.DOWNLOADING, S, End): State.IDLE,
    (State.DOWNLOADING, S, Error): State.CLOSED,
    (State.BROKEN, S, Error): State.CLOSED,
}
# The states in which an ERROR answers the client's request: only there may it be not fatal.
ANSWERING_STATES = frozenset({
    State.PUT_SENT, State.UPLOAD_ENDED, State.LIST_SENT, State.STAT_SENT, State.GET_SENT,
})
CLIENT_KINDS = frozenset({Kind.PUT, Kind.LIST, Kind.STAT, Kind.GET, Kind.DATA, Kind.END})
SERVER_KINDS = frozenset({Kind.READY, Kind.STORED, Kind.LISTING, Kind.INFO, Kind.META,
                          Kind.ERROR, Kind.DATA, Kind.END})


class SizeOverrun(RemoteProtocolError):
    """More DATA than declared. Travels on the wire as ``size-mismatch``."""

    wire_code = UploadErrorCode.SIZE_MISMATCH

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNEXPECTED, message)


def wire_code(exc: RemoteProtocolError) -> str:
    """The code to put in the ERROR message answering ``exc``."""
    return str(getattr(exc, "wire_code", exc.code))


class UploadConnection(Connection[State, Event]):
    """One end of an upload conversation: bytes in, events out, events in, bytes out."""

    def __init__(self, role: Role, *, data_frame_limit: int = DATA_FRAME_LIMIT) -> None:
        self.data_frame_limit = data_frame_limit
        # Kinds only our own side sends, and unknown kinds, are refused from their first byte.
        peer_kinds = CLIENT_KINDS if role is S else SERVER_KINDS
        self._limits = FrameLimits(
            {kind: data_frame_limit if kind is Kind.DATA else MAX_JSON_PAYLOAD
             for kind in peer_kinds},
            wrong_side=frozenset(Kind) - peer_kinds,
        )
        self._frames = FrameBuffer(self._limits, streamed={Kind.DATA})
        super().__init__(role, TRANSITIONS, State.IDLE, self._frames, broken_state=State.BROKEN)
        self._transfer_left = 0  # bytes still to come in the current upload/download
        self._request: Put | Get | None = None

    @property
    def transfer_left(self) -> int:
        """Bytes of the current upload or download not yet sent or received."""
        return self._transfer_left

    def _account(self, sender: Role, event: Event, new_state: State) -> State:
        """Keep the byte counts of uploads and downloads; check offsets."""
        if isinstance(event, Data):  # first: by far the most frequent event
            self._take_data(sender, len(event.data))
            return new_state
        if isinstance(event, Put | Get):
            self._request = event
        elif isinstance(event, Ready):
            assert isinstance(self._request, Put)
            if event.offset > self._request.size:
                self._fail(sender, ErrorCode.BAD_MESSAGE, "READY offset beyond the declared size")
            self._transfer_left = self._request.size - event.offset
        elif isinstance(event, Meta):
            assert isinstance(self._request, Get)
            if event.offset != self._request.offset or event.offset > event.size:
                self._fail(sender, ErrorCode.BAD_MESSAGE, "META offset differs from the request")
            self._transfer_left = event.size - event.offset
        elif isinstance(event, End):
            self._check_end(sender, event)
        elif isinstance(event, Error):
            if self.state not in ANSWERING_STATES and not event.fatal:
                self._fail(sender, ErrorCode.BAD_MESSAGE,
                           f"ERROR in state {self.state.value} must be fatal")
            if sender is self.role:
                check_sent(ERRORS, event.code, event.fatal)
            if event.fatal:
                return State.CLOSED
        return new_state

    def _check_end(self, sender: Role, end: End) -> None:
        """An upload's END carries the digest its PUT left out, and only then; a download's
        END comes after every byte and carries nothing."""
        if self.state is State.UPLOADING:
            assert isinstance(self._request, Put)
            if not self._request.sha256 and not end.sha256:
                self._fail(sender, ErrorCode.BAD_MESSAGE,
                           "END of an upload whose PUT declared no sha256 must carry it")
            if self._request.sha256 and end.sha256:
                self._fail(sender, ErrorCode.BAD_MESSAGE,
                           "END carries a sha256 that the PUT already declared")
        elif end.sha256:
            self._fail(sender, ErrorCode.BAD_MESSAGE, "only the END of an upload carries sha256")
        if self.state is State.DOWNLOADING and self._transfer_left:
            self._fail(sender, ErrorCode.TRUNCATED, f"END with {self._transfer_left} bytes left")

    def _take_data(self, sender: Role, length: int) -> None:
        """Count ``length`` bytes of DATA against what the transfer still carries."""
        if length > self._transfer_left:
            message = f"{length} bytes of DATA but {self._transfer_left} left"
            if sender is self.role:
                raise LocalProtocolError(ErrorCode.BAD_STATE, message)
            raise SizeOverrun(message)
        self._transfer_left -= length

    def _read_event(self) -> Event | NeedData | Closed:
        while True:
            frame = self._frames.next_frame()
            if isinstance(frame, StreamPart):
                return Data(frame.data)
            if isinstance(frame, Frame):
                return decode_payload(frame.kind, frame.payload,
                                      fatal_default=self.state not in ANSWERING_STATES)
            if isinstance(frame, NeedData | Closed):
                return frame
            # A DATA header: checked before any of its payload is handed out. Its parts
            # are counted as they come; an empty DATA frame yields no event at all.
            self._next_state(self.peer_role, Data)
            if frame.length > self._transfer_left:
                raise SizeOverrun(f"DATA frame of {frame.length} bytes "
                                  f"but {self._transfer_left} left")

    def early_bytes(self) -> RemoteProtocolError | None:
        """The error of bytes received while the client must wait for an answer, if any.

        A server calls it after reading a request (or an upload's END), before
        answering. Not part of ``next_event``: whether such bytes are already
        here depends on how the stream was cut, and events must not.
        """
        if self.role is not S or self.state not in ANSWERING_STATES or not self.buffered:
            return None
        return RemoteProtocolError(ErrorCode.UNEXPECTED, f"{self.buffered} bytes sent before "
                                   f"the answer (state {self.state.value})")

    def send_data_header(self, length: int) -> bytes:
        """The header of a DATA frame of ``length`` bytes, accounted as sent.

        The caller sends the payload right after it, from its own buffer: a
        megabyte is not copied just to put five bytes in front of it.
        """
        header = encode_header(Kind.DATA, length, max_payload=self.data_frame_limit)
        self._next_state(self.role, Data)
        self._take_data(self.role, length)
        return header

    def _encode(self, event: Event) -> bytes:
        kind = KIND_OF[type(event)]
        if isinstance(event, Data):  # the header first: an oversized payload is not copied
            header = encode_header(kind, len(event.data), max_payload=self.data_frame_limit)
            return header + encode_payload(event)
        return encode_frame(kind, encode_payload(event), max_payload=MAX_JSON_PAYLOAD)


__all__ = [
    "ANSWERING_STATES",
    "DATA_FRAME_LIMIT",
    "TRANSITIONS",
    "Role",
    "SizeOverrun",
    "State",
    "UploadConnection",
    "wire_code",
]
