"""The upload protocol's messages (netlab mode) as small frozen dataclasses.

Each event is one frame on the wire (see :mod:`services.upload.protocol` and
``docs/reference/protocol/upload.md`` for the byte layouts). ``Data`` may also be a *part* of a
DATA frame: the decoder hands payload bytes over as they arrive rather than
buffering a whole megabyte, as h11 does with bodies.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from services.wire.errors import FRAMED_PROTOCOL_ERRORS, ErrorSpec, error_table


class UploadErrorCode(enum.StrEnum):
    """Error codes of the upload service, in addition to the wire layer's codes."""

    BAD_NAME = "bad-name"
    TOO_LARGE = "too-large"
    QUOTA_EXCEEDED = "quota-exceeded"
    NO_SPACE = "no-space"
    EXISTS = "exists"
    HASH_MISMATCH = "hash-mismatch"
    SIZE_MISMATCH = "size-mismatch"
    NOT_FOUND = "not-found"
    BAD_OFFSET = "bad-offset"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting-down"
    IDLE_TIMEOUT = "idle-timeout"
    TIMEOUT = "timeout"
    IO_ERROR = "io-error"


# Every code an upload server sends, whether the connection closes after it, and when.
ERRORS = error_table((
    *FRAMED_PROTOCOL_ERRORS,
    ErrorSpec(UploadErrorCode.BAD_NAME, False,
              "answering PUT, STAT or GET: the name breaks the name rules (any length)"),
    ErrorSpec(UploadErrorCode.TOO_LARGE, False,
              "answering PUT: the declared size exceeds --max-file-size"),
    ErrorSpec(UploadErrorCode.QUOTA_EXCEEDED, False,
              "answering PUT: the upload would exceed --quota"),
    ErrorSpec(UploadErrorCode.NO_SPACE, None,
              "answering PUT: the disk would keep less than --min-free-space (not fatal); "
              "the disk filled up during the upload: partial deleted (fatal)"),
    ErrorSpec(UploadErrorCode.EXISTS, False,
              "answering PUT or an upload's END: the name is taken and the clash policy refuses"),
    ErrorSpec(UploadErrorCode.HASH_MISMATCH, False,
              "answering an upload's END: the data's SHA-256 is not the declared one"),
    ErrorSpec(UploadErrorCode.SIZE_MISMATCH, None,
              "answering an upload's END before the declared size (not fatal); "
              "a DATA frame beyond it (fatal)"),
    ErrorSpec(UploadErrorCode.NOT_FOUND, False, "answering STAT or GET: no such stored file"),
    ErrorSpec(UploadErrorCode.BAD_OFFSET, False,
              "answering GET: the offset is past the end of the file"),
    ErrorSpec(UploadErrorCode.BUSY, None,
              "answering PUT or GET: --max-uploads uploads in progress, the same upload in "
              "progress elsewhere, or no download memory within --memory-wait (not fatal); "
              "on accept past --max-clients (fatal)"),
    ErrorSpec(UploadErrorCode.SHUTTING_DOWN, True,
              "the server is draining: unprompted, answering a request, or cutting an upload"),
    ErrorSpec(UploadErrorCode.IDLE_TIMEOUT, True, "no request for --idle-timeout seconds"),
    ErrorSpec(UploadErrorCode.TIMEOUT, True,
              "an upload sent no DATA for --data-timeout seconds or averaged less than "
              "--min-rate; or the first request was not whole within --handshake-timeout"),
    ErrorSpec(UploadErrorCode.IO_ERROR, True, "the server's disk failed (at any point)"),
))


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the server knows of one stored file. ``sha256`` is empty in listings."""

    name: str
    size: int
    mtime: float
    sha256: str = ""


# -- client → server -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Put:
    """Announce an upload; nothing else flows until the server answers.

    ``resume`` is the token of an earlier READY for the same upload: only
    with it does the server resume that upload's kept bytes. ``sha256`` may
    be empty: the client then hashes while it sends and declares the digest
    in the upload's ``End`` (a file is read once, not once to hash and once
    to send).
    """

    name: str
    size: int
    sha256: str = ""
    overwrite: bool = False
    resume: str = ""


@dataclass(frozen=True, slots=True)
class ListFiles:
    """Ask for the stored files."""


@dataclass(frozen=True, slots=True)
class Stat:
    """Ask for one file's size, time and SHA-256."""

    name: str


@dataclass(frozen=True, slots=True)
class Get:
    """Ask for a file's bytes from ``offset`` on (a resumed download)."""

    name: str
    offset: int = 0


# -- server → client -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ready:
    """Upload accepted: send the bytes from ``offset`` (the resume point) on.

    ``resume`` is the token a later PUT presents to resume this upload. It is
    random, so it takes no part in comparisons: READYs with the same offset
    are the same answer.
    """

    offset: int
    resume: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Stored:
    """The upload was verified, synced and is visible under ``name``."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Listing:
    """A batch of stored files; batches end with ``End``."""

    files: tuple[FileInfo, ...]


@dataclass(frozen=True, slots=True)
class Info:
    """The answer to ``Stat``."""

    file: FileInfo


@dataclass(frozen=True, slots=True)
class Meta:
    """A download starts: ``size - offset`` bytes of DATA follow, then ``End``."""

    name: str
    size: int
    sha256: str
    offset: int


@dataclass(frozen=True, slots=True)
class Error:
    """A refusal or failure. ``fatal``: the server closes the connection after it.

    ``code`` is one of :data:`ERRORS` (a client accepts codes it does not
    know); only an ERROR answering a request may be not fatal.
    """

    code: str
    message: str = ""
    fatal: bool = False


# -- both directions ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Data:
    """File bytes (all or part of one DATA frame).

    A received ``Data`` may hold a read-only ``memoryview`` into the bytes
    the decoder was fed: cutting frames out of a megabyte-sized receive does
    not copy it. It compares equal to the same bytes.
    """

    data: bytes | memoryview = field(repr=False)

    def __repr__(self) -> str:
        return f"Data(<{len(self.data)} bytes>)"


@dataclass(frozen=True, slots=True)
class End:
    """End of an upload (client) or of a download or listing (server).

    ``sha256``: the digest of an upload whose PUT declared none (and only then).
    """

    sha256: str = ""


ClientEvent = Put | ListFiles | Stat | Get | Data | End
ServerEvent = Ready | Stored | Listing | Info | Meta | Error | Data | End
Event = ClientEvent | ServerEvent
