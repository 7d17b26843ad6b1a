"""Newline-delimited UTF-8 lines with a size limit (chat's netlab mode, nc, telnet)."""

from __future__ import annotations

from services.wire.buffer import ReceiveBuffer
from services.wire.errors import ErrorCode, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData

DEFAULT_MAX_LINE = 4096


class LineDecoder(ReceiveBuffer):
    """Splits a byte stream into text lines.

    A line ends at ``\\n``; a preceding ``\\r`` is dropped so telnet's CRLF works.
    A line longer than ``max_line`` bytes (terminator excluded) raises
    :class:`RemoteProtocolError` with ``LINE_TOO_LONG`` as soon as it is known to
    be too long, so an endless line never buffers more than ``max_line + 1``
    bytes. Invalid UTF-8 raises ``BAD_ENCODING`` for that line only; the decoder
    stays usable for the next one. At EOF an unterminated tail is returned as
    a last line (a peer may close right after its final line without ``\\n``).
    """

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        super().__init__()
        self.max_line = max_line
        self._scan_from = 0  # buffered bytes already known to hold no newline
        self._skipping = False

    def next_line(self) -> str | NeedData | Closed:
        """Return the next complete line, ``NEED_DATA`` or ``CLOSED``."""
        while True:
            index = self.find(b"\n", self._scan_from)
            if index >= 0:
                raw = self.take_bytes(index)
                self.skip(1)
                self._scan_from = 0
                if self._skipping:
                    self._skipping = False
                    continue
                return self._finish(raw)
            if self._skipping:
                # Discard the rest of an oversized line as it arrives.
                self.skip(self.buffered)
                self._scan_from = 0
                return CLOSED if self.eof else NEED_DATA
            # One extra byte of slack: it may be the ``\\r`` of a CRLF.
            if self.buffered > self.max_line + 1:
                self._skipping = True
                self.skip(self.buffered)
                self._scan_from = 0
                raise self._too_long()
            self._scan_from = self.buffered
            if not self.eof:
                return NEED_DATA
            if not self.buffered:
                return CLOSED
            raw = self.take_bytes(self.buffered)
            self._scan_from = 0
            return self._finish(raw)

    def _finish(self, raw: bytes) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > self.max_line:
            raise self._too_long()
        return self._decode(raw)

    def _too_long(self) -> RemoteProtocolError:
        return RemoteProtocolError(
            ErrorCode.LINE_TOO_LONG, f"line longer than {self.max_line} bytes"
        )

    @staticmethod
    def _decode(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemoteProtocolError(
                ErrorCode.BAD_ENCODING, f"line is not valid UTF-8 at byte {exc.start}"
            ) from None


def encode_line(text: str) -> bytes:
    """Encode one line of text, adding the ``\\n`` terminator."""
    if "\n" in text:
        raise ValueError("a line cannot contain a newline")
    return text.encode("utf-8") + b"\n"
