"""STDIN bytes on their way from the connection's reader to the command, bounded in bytes.

The reader must keep reading the connection while a command is not reading
its stdin: a CANCEL or STDIN_EOF sent after that input must be seen at once,
not when the time limit ends the command. So :meth:`StdinBuffer.put` never
waits while fewer than ``limit`` bytes are buffered (beyond the 64 KiB of the
pipe), whatever the number of frames; past that it waits for the command to
read (TCP back-pressure on the client), or for the command to end, after
which input is dropped and the reader goes on.
"""

from __future__ import annotations

import math

import trio

DEFAULT_LIMIT = 4 * 1024 * 1024


class StdinBuffer:
    """A FIFO of STDIN chunks with a byte bound; one producer (the reader), one consumer."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.buffered = 0
        self._send, self._recv = trio.open_memory_channel[bytes](math.inf)
        self._room = trio.Event()
        self._finished = False  # the consumer is gone: drop what comes

    async def put(self, data: bytes) -> None:
        """Queue ``data``; waits only while more than ``limit`` bytes are buffered."""
        while self.buffered >= self.limit and not self._finished:
            self._room = trio.Event()
            await self._room.wait()
        if self._finished:
            return
        try:
            self._send.send_nowait(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the command's stdin is over
        self.buffered += len(data)

    def close(self) -> None:
        """STDIN_EOF (or the RUN is over): the consumer sees the end after what is queued."""
        self._send.close()

    def finish(self) -> None:
        """The consumer is done: drop what is buffered and anything put later."""
        self._finished = True
        self._recv.close()
        self.buffered = 0
        self._room.set()

    async def get(self) -> bytes | None:
        """The next chunk, counted as consumed; None after :meth:`close` and all before it."""
        try:
            data = await self._recv.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return None
        self.buffered -= len(data)
        self._room.set()
        return data
