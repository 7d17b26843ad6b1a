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

An ERROR that *answers* a request leaves the connection usable. An ERROR
while bytes flow (UPLOADING, DOWNLOADING) or unprompted (IDLE: shutting
down, idle timeout) is fatal: the server closes the connection after it.

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
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.frames import HEADER, HEADER_SIZE, MAX_JSON_PAYLOAD
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

DATA_FRAME_LIMIT = 1 << 20  # largest DATA payload either end accepts (1 MiB)


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


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


class SizeOverrun(RemoteProtocolError):
    """More DATA than declared. Travels on the wire as ``size-mismatch``."""

    wire_code = UploadErrorCode.SIZE_MISMATCH

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNEXPECTED, message)


def wire_code(exc: RemoteProtocolError) -> str:
    """The code to put in the ERROR message answering ``exc``."""
    return str(getattr(exc, "wire_code", exc.code))


class UploadConnection:
    """One end of an upload conversation: bytes in, events out, events in, bytes out."""

    def __init__(self, role: Role, *, data_frame_limit: int = DATA_FRAME_LIMIT) -> None:
        self.role = role
        self.peer_role = S if role is C else C
        self.data_frame_limit = data_frame_limit
        self.state = State.IDLE
        self._buffer = b""
        self._pos = 0
        self._eof = False
        self._frame_left = 0  # payload bytes still to come of the DATA frame being read
        self._transfer_left = 0  # bytes still to come in the current upload/download
        self._request: Put | Get | None = None
        self._broken: RemoteProtocolError | None = None

    # -- state -------------------------------------------------------------
    @property
    def transfer_left(self) -> int:
        """Bytes of the current upload or download not yet sent or received."""
        return self._transfer_left

    def _advance(self, sender: Role, event: Event) -> None:
        key = (self.state, sender, type(event))
        new_state = TRANSITIONS.get(key)
        local = sender is self.role
        if new_state is None:
            message = f"{type(event).__name__} from the {sender.value} in state {self.state.value}"
            if local:
                raise LocalProtocolError(ErrorCode.BAD_STATE, message)
            raise RemoteProtocolError(ErrorCode.UNEXPECTED, message)
        self._account(sender, event, local)
        self.state = new_state

    def _account(self, sender: Role, event: Event, local: bool) -> None:
        """Keep the byte counts of uploads and downloads; check offsets."""
        if isinstance(event, Put | Get):
            self._request = event
        elif isinstance(event, Ready):
            assert isinstance(self._request, Put)
            if event.offset > self._request.size:
                self._fail(local, ErrorCode.BAD_MESSAGE, "READY offset beyond the declared size")
            self._transfer_left = self._request.size - event.offset
        elif isinstance(event, Meta):
            assert isinstance(self._request, Get)
            if event.offset != self._request.offset or event.offset > event.size:
                self._fail(local, ErrorCode.BAD_MESSAGE, "META offset differs from the request")
            self._transfer_left = event.size - event.offset
        elif isinstance(event, Data):
            if len(event.data) > self._transfer_left:
                message = f"{len(event.data)} bytes of DATA but {self._transfer_left} left"
                if local:
                    raise LocalProtocolError(ErrorCode.BAD_STATE, message)
                raise SizeOverrun(message)
            self._transfer_left -= len(event.data)
        elif isinstance(event, End) and self.state is State.DOWNLOADING and self._transfer_left:
            self._fail(local, ErrorCode.TRUNCATED, f"END with {self._transfer_left} bytes left")

    @staticmethod
    def _fail(local: bool, code: ErrorCode, message: str) -> None:
        if local:
            raise LocalProtocolError(code, message)
        raise RemoteProtocolError(code, message)

    # -- receiving -----------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("data received after EOF")
            return
        if not data:
            self._eof = True
        elif self._pos >= len(self._buffer):
            self._buffer, self._pos = data, 0
        else:
            self._buffer = self._buffer[self._pos :] + data
            self._pos = 0

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in an event."""
        return len(self._buffer) - self._pos

    def next_event(self) -> Event | NeedData | Closed:
        """The next event from the peer, ``NEED_DATA`` or ``CLOSED``.

        Raises :class:`RemoteProtocolError` (and stays broken) if the peer
        broke the protocol.
        """
        if self._broken is not None:
            raise self._broken
        try:
            return self._next_event()
        except RemoteProtocolError as exc:
            self._broken = exc
            self.state = State.BROKEN
            raise

    def _next_event(self) -> Event | NeedData | Closed:
        while True:
            available = len(self._buffer) - self._pos
            if self._frame_left:
                if not available:
                    return self._need_data_or_truncated()
                take = min(available, self._frame_left)
                chunk: bytes | memoryview
                if self._pos == 0 and take == len(self._buffer):
                    chunk = self._buffer
                else:  # a view, not a copy: frames rarely line up with receives
                    chunk = memoryview(self._buffer)[self._pos : self._pos + take]
                self._pos += take
                self._frame_left -= take
                data = Data(chunk)
                self._advance(self.peer_role, data)
                return data
            if available < HEADER_SIZE:
                if available == 0 and self._eof:
                    return CLOSED
                return self._need_data_or_truncated()
            kind, length = HEADER.unpack_from(self._buffer, self._pos)
            if kind == Kind.DATA:
                self._start_data_frame(length)
                continue
            if length > MAX_JSON_PAYLOAD:
                raise RemoteProtocolError(
                    ErrorCode.FRAME_TOO_LARGE,
                    f"control frame of {length} bytes exceeds {MAX_JSON_PAYLOAD}",
                )
            end = self._pos + HEADER_SIZE + length
            if len(self._buffer) < end:
                return self._need_data_or_truncated()
            payload = self._buffer[self._pos + HEADER_SIZE : end]
            self._pos = end
            event = decode_payload(kind, payload)
            self._advance(self.peer_role, event)
            return event

    def _start_data_frame(self, length: int) -> None:
        # Checked at the header, before any payload is buffered or handed out.
        if length > self.data_frame_limit:
            raise RemoteProtocolError(
                ErrorCode.FRAME_TOO_LARGE,
                f"DATA frame of {length} bytes exceeds {self.data_frame_limit}",
            )
        if (self.state, self.peer_role, Data) not in TRANSITIONS:
            raise RemoteProtocolError(
                ErrorCode.UNEXPECTED, f"DATA from the {self.peer_role.value} in {self.state.value}"
            )
        if length > self._transfer_left:
            raise SizeOverrun(f"DATA frame of {length} bytes but {self._transfer_left} left")
        self._pos += HEADER_SIZE
        self._frame_left = length

    def _need_data_or_truncated(self) -> NeedData:
        if self._eof:
            raise RemoteProtocolError(ErrorCode.TRUNCATED, "connection closed inside a frame")
        return NEED_DATA

    # -- sending ---------------------------------------------------------------
    def send_data_header(self, length: int) -> bytes:
        """The header of a DATA frame of ``length`` bytes, accounted as sent.

        The caller sends the payload right after it, from its own buffer: a
        megabyte is not copied just to put five bytes in front of it.
        """
        if length > self.data_frame_limit:
            raise LocalProtocolError(ErrorCode.FRAME_TOO_LARGE, f"DATA of {length} bytes")
        if (self.state, self.role, Data) not in TRANSITIONS:
            raise LocalProtocolError(ErrorCode.BAD_STATE, f"DATA in state {self.state.value}")
        if length > self._transfer_left:
            raise LocalProtocolError(
                ErrorCode.BAD_STATE, f"{length} bytes of DATA but {self._transfer_left} left"
            )
        self._transfer_left -= length
        return HEADER.pack(Kind.DATA, length)

    def send(self, event: Event) -> bytes:
        """The bytes of ``event``; raises :class:`LocalProtocolError` if not allowed now."""
        if isinstance(event, Data) and len(event.data) > self.data_frame_limit:
            raise LocalProtocolError(
                ErrorCode.FRAME_TOO_LARGE, f"DATA of {len(event.data)} bytes; split it"
            )
        payload = encode_payload(event)
        if len(payload) > MAX_JSON_PAYLOAD and not isinstance(event, Data):
            raise LocalProtocolError(ErrorCode.FRAME_TOO_LARGE, "control message too large")
        self._advance(self.role, event)
        return HEADER.pack(KIND_OF[type(event)], len(payload)) + payload


__all__ = [
    "DATA_FRAME_LIMIT",
    "TRANSITIONS",
    "Role",
    "SizeOverrun",
    "State",
    "UploadConnection",
    "wire_code",
]
