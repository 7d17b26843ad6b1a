"""The receive buffer every decoder stands on: bytes in, end of stream, what is left.

A decoder (lines, frames, the tutorial's upload headers) inherits
:class:`ReceiveBuffer` and so shares one ``receive_data``: ``b""`` means the
peer closed its side, and bytes after that are a bug in the caller.

Resource handling: the buffer keeps the ``bytes`` objects it was fed and a read
position, never a growing ``bytearray``. Consumed bytes are dropped by moving
the position; a new receive copies only the unconsumed tail. So a chunk handed
out by :meth:`ReceiveBuffer.take` can be a ``memoryview`` of a received object
(no copy, which upload's throughput depends on) and stays valid for as long as
the caller holds it: nothing here ever writes into a buffer it handed out.
"""

from __future__ import annotations

import struct
from typing import Any


class ReceiveBuffer:
    """Bytes received from the peer and not consumed yet, and whether it has closed."""

    def __init__(self) -> None:
        self._data = b""
        self._pos = 0
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("data received after EOF")
            return
        if not data:
            self._eof = True
        elif self._pos >= len(self._data):
            self._data, self._pos = bytes(data), 0
        else:
            self._data = self._data[self._pos :] + data
            self._pos = 0

    @property
    def buffered(self) -> int:
        """Bytes received but not consumed yet."""
        return len(self._data) - self._pos

    @property
    def eof(self) -> bool:
        """The peer has closed its side (buffered bytes may remain)."""
        return self._eof

    def byte(self, index: int) -> int:
        """The buffered byte at ``index`` (0: the next one to consume)."""
        return self._data[self._pos + index]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """Where ``sub`` starts among the buffered bytes (``start``/``end`` relative), or -1."""
        base = self._pos
        stop = len(self._data) if end is None else min(base + end, len(self._data))
        index = self._data.find(sub, base + start, stop)
        return index - base if index >= 0 else -1

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        """``layout`` read from the front of the buffer, without consuming it."""
        return layout.unpack_from(self._data, self._pos)

    def take(self, size: int) -> bytes | memoryview:
        """Consume ``size`` bytes: the received object itself if it is exactly that, else a view."""
        start = self._pos
        self._pos += size
        if start == 0 and size == len(self._data):
            return self._data
        return memoryview(self._data)[start : start + size]

    def take_bytes(self, size: int) -> bytes:
        """Consume ``size`` bytes as one ``bytes`` object (a copy unless it is a whole receive)."""
        start = self._pos
        self._pos += size
        return self._data[start : self._pos]

    def skip(self, size: int) -> None:
        """Consume ``size`` bytes nobody needs."""
        self._pos += size
