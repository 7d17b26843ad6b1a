"""The tutorial's upload bytes (classic mode), sans-IO.

The tutorial's client sends ``NAME|SIZE`` with one ``sendall``, then the
file's bytes in 1024-byte ``sendall`` calls, with *no delimiter* between the
header and the data, and waits for ``true``. Several files may follow on one
connection.

Where the header ends (the rule, documented in ``docs/reference/protocol/classic.md``): NAME is
everything before the first ``|`` (at most :data:`MAX_HEADER` bytes in all);
SIZE is the run of ASCII digits after it, at most :data:`MAX_DIGITS` long,
and it ends at the first non-digit byte **or at the end of a receive**,
whichever comes first. The caller feeds one ``receive_data`` per receive and
asks for the header before feeding the next, so a segment boundary right
after the digits ends the header, which is what the tutorial's server relies
on (its header arrives with its own ``recv``). So:

* header alone in a segment (what the tutorial's client produces against the
  lab's server, see :mod:`services.runtime.acks`): correct, whatever the data;
* header and data glued in one segment, data starting with a non-digit: correct;
* glued, data starting with a digit: those digits are read as part of SIZE
  and the upload is misparsed (usually refused as too large, else stored
  wrong). The wire has no way to tell; this is one of the classic flaws the
  lab demonstrates, and netlab mode does not have it. A header followed by
  more bytes in the same receive is marked ``glued`` (the server counts it
  as ``classic_glued_header``), so a misparse can be traced to this;
* a header cut inside its digits by TCP: SIZE is read short, as by the
  tutorial's own server (which trusts one ``recv(1024)``).

Classic mode cannot verify integrity (no hash) and cannot resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.upload.events import Data
from services.wire.buffer import ReceiveBuffer
from services.wire.errors import ErrorCode, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, EventSource, NeedData

MAX_HEADER = 1024  # the tutorial's server reads its header with one recv(1024)
MAX_DIGITS = 20
TRUE = b"true"
FALSE = b"false"
DIGITS = b"0123456789"


@dataclass(frozen=True, slots=True)
class ClassicHeader:
    """``NAME|SIZE``; the name is raw bytes, the server decodes and checks it.

    ``glued``: more bytes followed the header in the same receive, so a SIZE
    run into digit-leading data could not be told apart.
    """

    raw_name: bytes
    size: int
    glued: bool = field(default=False, compare=False)  # how it arrived, not what it says


@dataclass(frozen=True, slots=True)
class FileEnd:
    """All ``size`` bytes of the current file have arrived; the client waits for a reply."""


ClassicEvent = ClassicHeader | Data | FileEnd


class ClassicDecoder(ReceiveBuffer, EventSource[ClassicEvent]):
    """Splits a classic upload stream into headers, data and file ends."""

    def __init__(self) -> None:
        super().__init__()
        self._left: int | None = None  # bytes of the current file still to come

    def next_event(self) -> ClassicEvent | NeedData | Closed:
        """The next event, ``NEED_DATA`` or ``CLOSED``; bad bytes raise RemoteProtocolError."""
        if self._left is not None:
            if self._left == 0:
                self._left = None
                return FileEnd()
            if not self.buffered:
                if self.eof:
                    raise RemoteProtocolError(
                        ErrorCode.TRUNCATED, f"connection closed with {self._left} bytes to come"
                    )
                return NEED_DATA
            take = min(self._left, self.buffered)
            self._left -= take
            return Data(self.take(take))
        return self._header()

    def _header(self) -> ClassicHeader | NeedData | Closed:
        bar = self.find(b"|", 0, MAX_HEADER)
        if bar < 0:
            if self.buffered >= MAX_HEADER:
                raise RemoteProtocolError(
                    ErrorCode.BAD_MESSAGE, f"no '|' in the first {MAX_HEADER} bytes of a header"
                )
            if self.eof:
                if not self.buffered:
                    return CLOSED
                raise RemoteProtocolError(ErrorCode.TRUNCATED, "connection closed in a header")
            return NEED_DATA
        end = bar + 1
        limit = min(self.buffered, end + MAX_DIGITS)
        while end < limit and self.byte(end) in DIGITS:
            end += 1
        if end == bar + 1:
            if end == self.buffered and not self.eof:
                return NEED_DATA  # the digits have not arrived yet
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, "SIZE after '|' is not a number")
        if end > MAX_HEADER:
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, f"header longer than {MAX_HEADER}")
        raw = self.take_bytes(end)
        header = ClassicHeader(raw[:bar], int(raw[bar + 1 :]), glued=self.buffered > 0)
        self._left = header.size
        return header
