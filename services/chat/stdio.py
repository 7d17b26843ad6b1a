"""The process's stdin and stdout as Trio streams, without making them non-blocking.

``trio.lowlevel.FdStream`` would put the file description in non-blocking
mode, which it shares with the parent shell and other processes; so the
blocking calls run in a worker thread instead. A read stuck on a silent
terminal is abandoned on cancellation (the worker is a daemon thread).
"""

from __future__ import annotations

import os

import trio

READ_SIZE = 4096


class FdReceiveStream(trio.abc.ReceiveStream):
    """Reads a file descriptor (stdin: 0) in a worker thread; ``b""`` at EOF."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._eof = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._eof:
            return b""
        try:
            data = await trio.to_thread.run_sync(
                os.read, self.fd, max_bytes or READ_SIZE, abandon_on_cancel=True
            )
        except OSError:
            data = b""
        if not data:
            self._eof = True
        return data

    async def aclose(self) -> None:
        self._eof = True
        await trio.lowlevel.checkpoint()


class FdSendStream(trio.abc.SendStream):
    """Writes a file descriptor (stdout: 1) in a worker thread."""

    def __init__(self, fd: int = 1) -> None:
        self.fd = fd

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(bytes(data))
        while view:
            try:
                written = await trio.to_thread.run_sync(os.write, self.fd, view)
            except OSError as exc:
                raise trio.BrokenResourceError(str(exc)) from exc
            view = view[written:]

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
