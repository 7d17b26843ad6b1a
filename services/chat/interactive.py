"""``netlab chat client``: stdin lines to the server, server lines to stdout, reconnecting.

Each line typed is sent as it is (text, or a ``/command``); each line from the
server is printed as it came (``* bob joined #lobby``, ``[#lobby] <bob> hi``).
Status lines of the client itself go to stderr, prefixed ``-- ``.

When the connection is lost the client reconnects with exponential backoff
and takes back its nickname and room; lines typed meanwhile are kept (a
bounded queue) and sent after. It gives up after ``backoff.attempts`` failed
tries in a row, or when kicked. At EOF on stdin it sends ``/quit``, waits for
the server's ``= bye`` (bounded), prints what is left and exits 0.
"""

from __future__ import annotations

import contextlib

import trio

from services.chat.client import (
    QUIT_TIMEOUT,
    ChatClient,
    ChatClosed,
    ChatRefused,
    ConnectFailed,
    open_chat,
)
from services.chat.codec import encode_server_event
from services.chat.events import ChatCode
from services.chat.grammar import GUEST_PREFIX
from services.runtime.retry import Backoff
from services.wire.errors import LocalProtocolError, RemoteProtocolError
from services.wire.lines import LineDecoder
from services.wire.sentinels import CLOSED, NEED_DATA

LINE_QUEUE = 256
MAX_INPUT_LINE = 64 * 1024


class InteractiveClient:
    """The command's state across reconnections."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        nick: str | None,
        room: str | None,
        backoff: Backoff,
        stdin: trio.abc.ReceiveStream,
        stdout: trio.abc.SendStream,
        stderr: trio.abc.SendStream,
    ) -> None:
        self.host, self.port = host, port
        self.nick, self.room = nick, room
        self.backoff = backoff
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self._lines_in, self._lines_out = trio.open_memory_channel[str](LINE_QUEUE)
        self._pending: str | None = None

    async def run(self) -> int:
        """Talk until stdin ends (0) or the server cannot be reached (1)."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._read_stdin)
            status = await self._converse()
            nursery.cancel_scope.cancel()
        return status

    async def _converse(self) -> int:
        delays = self.backoff.delays()
        connected_once = False
        while True:
            started = trio.current_time()
            finished = False
            try:
                async with open_chat(
                    self.host, self.port, nick=self.nick, room=self.room, backoff=self.backoff
                ) as chat:
                    connected_once = True
                    await self._status(
                        f"connected to {self.host}:{self.port} as {chat.nick} in #{chat.room}"
                    )
                    finished = await self._session(chat)
                    reason = chat.close_reason
            except ConnectFailed as exc:
                await self._status(str(exc))
                return 1
            except ChatRefused as exc:
                if not connected_once or self.nick is None:
                    await self._status(f"refused: {exc}")
                    return 1
                # Our old connection may still hold the nick on the server.
                await self._status(f"refused: {exc}; continuing as a guest")
                self.nick = None
                continue
            except ChatClosed as exc:
                reason = str(exc)  # lost while taking nick and room: retry
            if finished:
                return 0
            if reason.startswith(ChatCode.KICKED):
                await self._status(f"disconnected ({reason}); not reconnecting")
                return 1
            if trio.current_time() - started > self.backoff.max_delay:
                delays = self.backoff.delays()  # it was a real session: start afresh
            delay = next(delays, None)
            if delay is None:
                await self._status(f"disconnected ({reason}); giving up")
                return 1
            await self._status(f"disconnected ({reason}); reconnecting in {delay:g} s")
            await trio.sleep(delay)

    async def _session(self, chat: ChatClient) -> bool:
        """True when stdin ended (we are done), False when the connection was lost."""
        printed = trio.Event()
        ending = "lost"
        async with trio.open_nursery() as nursery:

            async def print_events() -> None:
                async for event in chat.events():
                    await self._write(self.stdout, encode_server_event(event))
                printed.set()

            nursery.start_soon(print_events)
            with trio.CancelScope() as sending:

                async def cancel_when_closed() -> None:
                    await chat.closed.wait()
                    sending.cancel()

                nursery.start_soon(cancel_when_closed)
                ending = await self._send_lines(chat)
            finished = ending != "lost"
            if chat.nick and not chat.nick.startswith(GUEST_PREFIX):
                self.nick = chat.nick
            self.room = chat.room or self.room
            if ending == "eof":
                await chat.quit(timeout=QUIT_TIMEOUT)
            elif ending == "quit":
                with trio.move_on_after(QUIT_TIMEOUT):
                    await chat.closed.wait()
            with trio.move_on_after(QUIT_TIMEOUT):
                await printed.wait()
            nursery.cancel_scope.cancel()
        return finished

    async def _send_lines(self, chat: ChatClient) -> str:
        """``eof`` (stdin ended), ``quit`` (``/quit`` typed) or ``lost``."""
        while True:
            if self._pending is None:
                try:
                    self._pending = await self._lines_out.receive()
                except trio.EndOfChannel:
                    return "eof"
            try:
                await chat.send_line(self._pending)
            except ChatClosed:
                return "lost"
            typed, self._pending = self._pending, None
            if typed.strip().lower().split(" ", 1)[0] == "/quit":
                return "quit"

    async def _read_stdin(self) -> None:
        decoder = LineDecoder(MAX_INPUT_LINE)
        async with self._lines_in:
            while True:
                try:
                    line = decoder.next_line()
                except (RemoteProtocolError, LocalProtocolError) as exc:
                    await self._status(f"line not sent: {exc}")
                    continue
                if line is NEED_DATA:
                    decoder.receive_data(bytes(await self.stdin.receive_some(65536)))
                    continue
                if line is CLOSED:
                    return
                assert isinstance(line, str)
                if line.strip():
                    await self._lines_in.send(line)

    async def _status(self, text: str) -> None:
        await self._write(self.stderr, f"-- {text}\n".encode())

    @staticmethod
    async def _write(stream: trio.abc.SendStream, data: bytes) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(data)
