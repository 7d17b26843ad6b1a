"""The chat client as an async library (for the harness and the ``netlab chat client`` command).

Usage::

    async with open_chat("127.0.0.1", 8000, nick="alice", room="dev") as chat:
        await chat.say("hello")
        async for event in chat.events():
            print(event)

Theory of operation: one background task reads the connection, keeps the
client's state (nick, room) up to date, wakes requests waiting for their
answer (``set_nick``, ``join``, ``who``...) and queues every event for
``events()``. Sends go through one lock, so any task may send.

The server puts a client in the lobby when it connects, before the preface
has told it this is a netlab client; messages said in the room in that
instant can reach the client before its ``= welcome`` line. The reader keeps
them and queues them right after the welcome: the welcome stays the first
event (``open_chat`` takes it), and those messages follow in the order sent.

Resource handling: the events queue is bounded (``event_buffer``). A program
that never consumes ``events()`` stops the reader once it is full, which is
exactly a slow consumer; the server will disconnect it. ``open_chat`` closes
the connection on exit, after a polite ``/quit`` when nothing went wrong.

Error handling: connection failures are retried with :class:`Backoff`;
``ConnectFailed`` when they run out; ``ChatRefused`` carries the server's
error line for a refused request; ``ChatClosed`` is raised by requests on a
connection that has ended (or is ending: shutdown, kick, idle timeout).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from services.chat.events import (
    ERRORS,
    ClientEvent,
    Error,
    Join,
    Joined,
    ListRooms,
    Quit,
    Renamed,
    RoomList,
    Say,
    ServerEvent,
    SetNick,
    Tell,
    Welcome,
    Who,
    WhoList,
)
from services.chat.protocol import ClientProtocol
from services.runtime import retry
from services.runtime.retry import NO_RETRY, Backoff, connect_with_retry
from services.wire.errors import RemoteProtocolError
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA

DEFAULT_EVENT_BUFFER = 1024
REQUEST_TIMEOUT = 10.0
QUIT_TIMEOUT = 2.0
# Error lines the server sends just before it closes: they say why it did.
# (The codec reads an older server's server-full and server-shutdown as busy and shutting-down.)
FAREWELL_CODES = frozenset(code for code, spec in ERRORS.items() if spec.fatal)


class ChatClosed(Exception):
    """The connection to the chat server has ended."""


class ConnectFailed(ChatClosed):
    """No connection could be opened within the retries allowed."""


class ChatRefused(Exception):
    """The server answered a request with an error line."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


async def connect(
    host: str, port: int, *, backoff: Backoff = NO_RETRY, connect_timeout: float = 5.0,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> trio.SocketStream:
    """Open a TCP connection, retrying refused or timed-out attempts per ``backoff``."""
    try:
        return await connect_with_retry(host, port, backoff, connect_timeout=connect_timeout,
                                        on_retry=on_retry)
    except retry.ConnectFailed as exc:
        raise ConnectFailed(str(exc)) from exc


class ChatClient:
    """One connection to a chat server in netlab mode. Create it with :func:`open_chat`."""

    def __init__(self, stream: trio.SocketStream, *, event_buffer: int) -> None:
        self.stream = stream
        self.nick = ""
        self.room = ""
        self.closed = trio.Event()
        self.close_reason = ""
        self._proto = ClientProtocol()
        self._send_lock = trio.Lock()
        self._events_in, self._events_out = trio.open_memory_channel[ServerEvent](event_buffer)
        self._waiters: list[tuple[Callable[[ServerEvent], bool], _Reply]] = []

    # -- requests -------------------------------------------------------------
    async def send(self, event: ClientEvent) -> None:
        """Send one command or message (any task may call it)."""
        data = self._proto.send(event)
        if self.closed.is_set():
            raise ChatClosed(self.close_reason)
        async with self._send_lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ChatClosed(f"connection lost: {exc}") from exc

    async def send_line(self, line: str) -> None:
        """Send a line as typed (text or a ``/command``), as ``nc`` would."""
        if "\n" in line or "\r" in line:
            raise ValueError("a line cannot contain a line break")
        if self.closed.is_set():
            raise ChatClosed(self.close_reason)
        async with self._send_lock:
            try:
                await self.stream.send_all(line.encode("utf-8") + b"\n")
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ChatClosed(f"connection lost: {exc}") from exc

    async def say(self, text: str) -> None:
        """Say ``text`` to the current room."""
        await self.send(Say(text))

    async def tell(self, nick: str, text: str) -> None:
        """Tell ``nick`` privately (the server echoes it back as a ``Private``)."""
        await self.send(Tell(nick, text))

    async def set_nick(self, nick: str) -> None:
        """Change nickname; raises :class:`ChatRefused` (``nick-taken``, ``bad-nick``)."""
        old = self.nick
        await self._request(
            SetNick(nick), lambda e: isinstance(e, Renamed) and e.old == old and e.new == nick
        )

    async def join(self, room: str) -> None:
        """Move to ``room`` (``#`` optional)."""
        name = room.removeprefix("#")
        await self._request(
            Join(name),
            lambda e: isinstance(e, Joined) and e.room == name and e.nick == self.nick,
        )

    async def who(self) -> WhoList:
        """Who is in the current room."""
        reply = await self._request(Who(), lambda e: isinstance(e, WhoList))
        assert isinstance(reply, WhoList)
        return reply

    async def rooms(self) -> RoomList:
        """The rooms and their sizes."""
        reply = await self._request(ListRooms(), lambda e: isinstance(e, RoomList))
        assert isinstance(reply, RoomList)
        return reply

    async def quit(self, reason: str = "", timeout: float = QUIT_TIMEOUT) -> None:
        """Say goodbye and wait (at most ``timeout``) for the server to close."""
        if not self.closed.is_set():
            try:
                await self.send(Quit(reason))
            except ChatClosed:
                return
            with trio.move_on_after(timeout):
                await self.closed.wait()

    async def _request(
        self, event: ClientEvent, matches: Callable[[ServerEvent], bool]
    ) -> ServerEvent:
        reply = _Reply()
        entry = (matches, reply)
        self._waiters.append(entry)
        try:
            await self.send(event)
            with trio.fail_after(REQUEST_TIMEOUT):
                await reply.done.wait()
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        if reply.event is None:
            raise ChatClosed(self.close_reason)
        if isinstance(reply.event, Error):
            if reply.event.code in FAREWELL_CODES:
                # Not an answer: the server is closing the connection.
                raise ChatClosed(f"{reply.event.code}: {reply.event.message}")
            raise ChatRefused(reply.event)
        return reply.event

    # -- events ---------------------------------------------------------------
    def events(self) -> trio.MemoryReceiveChannel[ServerEvent]:
        """Every event from the server, in order, until the connection ends (``async for``).

        A channel rather than a generator, so breaking out of the loop and
        iterating again later loses nothing.
        """
        return self._events_out

    async def next_event(self, timeout: float = math.inf) -> ServerEvent:
        """The next event; :class:`ChatClosed` once the connection has ended."""
        with trio.fail_after(timeout):
            try:
                return await self._events_out.receive()
            except trio.EndOfChannel:
                raise ChatClosed(self.close_reason) from None

    async def _read_loop(self) -> None:
        early: list[ServerEvent] = []
        async with self._events_in:
            try:
                while True:
                    event = self._proto.next_event()
                    if event is CLOSED:
                        self._finish("server closed the connection")
                        return
                    if event is NEED_DATA:
                        try:
                            data = await self.stream.receive_some(65536)
                        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                            self._finish(f"connection lost: {exc}")
                            return
                        self._proto.receive_data(data)
                        continue
                    assert not isinstance(event, type(CLOSED))
                    self._track(event)
                    if not self.nick:  # set by the welcome
                        # Said in the room before the server knew our mode: kept
                        # for after the welcome, so the welcome stays first.
                        early.append(event)
                        continue
                    await self._events_in.send(event)
                    for held in early:
                        await self._events_in.send(held)
                    early.clear()
            except RemoteProtocolError as exc:
                self._finish(f"bad line from server: {exc}")

    def _track(self, event: ServerEvent) -> None:
        match event:
            case Welcome(nick, room):
                self.nick, self.room = nick, room
            case Renamed(old, new) if old == self.nick:
                self.nick = new
            case Joined(room, nick) if nick == self.nick:
                self.room = room
            case Error(code, message) if code in FAREWELL_CODES:
                self.close_reason = f"{code}: {message}"
        for index, (matches, reply) in enumerate(self._waiters):
            # The server answers in order, so an error line answers the oldest
            # request (an error for an over-long ``say`` could be taken for it).
            if matches(event) or (index == 0 and isinstance(event, Error)):
                reply.event = event
                reply.done.set()
                del self._waiters[index]
                break

    def _finish(self, reason: str) -> None:
        self.close_reason = self.close_reason or reason
        self.closed.set()
        for _, reply in self._waiters:
            reply.done.set()
        self._waiters.clear()


class _Reply:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.event: ServerEvent | None = None


@asynccontextmanager
async def open_chat(
    host: str,
    port: int,
    *,
    nick: str | None = None,
    room: str | None = None,
    backoff: Backoff = NO_RETRY,
    connect_timeout: float = 5.0,
    event_buffer: int = DEFAULT_EVENT_BUFFER,
) -> AsyncIterator[ChatClient]:
    """Connect (retrying per ``backoff``), take ``nick`` and ``room``, yield the client."""
    stream = await connect(host, port, backoff=backoff, connect_timeout=connect_timeout)
    body_error: Exception | None = None
    async with stream, trio.open_nursery() as nursery:
        client = ChatClient(stream, event_buffer=event_buffer)
        nursery.start_soon(client._read_loop)
        polite = False
        try:
            await stream.send_all(encode_preface("chat"))
            with trio.fail_after(REQUEST_TIMEOUT):
                welcome = await client.next_event()
            if not isinstance(welcome, Welcome):
                raise ChatClosed(f"server said {welcome!r} instead of welcome")
            if nick is not None and nick != client.nick:
                await client.set_nick(nick)
            if room is not None and room.removeprefix("#") != client.room:
                await client.join(room)
            yield client
            polite = True
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            body_error = ChatClosed(f"connection lost: {exc}")
        except Exception as exc:
            # Raised below, outside the nursery, as itself, not as a group.
            body_error = exc
        finally:
            if polite:
                with trio.CancelScope(shield=True):
                    await client.quit()
            nursery.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
