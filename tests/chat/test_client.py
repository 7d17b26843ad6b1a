"""The chat client library and the interactive command's logic, against an in-process server."""

from __future__ import annotations

from functools import partial

import pytest
import trio
import trio.testing

from services.chat.client import Backoff, ChatClosed, ChatRefused, connect, open_chat
from services.chat.events import ChatCode, Joined, Left, Message, Renamed, RoomList
from services.chat.interactive import InteractiveClient
from services.wire.preface import encode_preface
from tests.support.ports import free_port
from tests.support.servers import StartChat, start_chat
from tests.support.waiting import receive_exactly, wait_for


async def test_library_takes_nick_and_room_and_chats(start_server: StartChat) -> None:
    server = await start_server()
    async with open_chat("127.0.0.1", server.port, nick="alice", room="dev") as alice:
        assert (alice.nick, alice.room) == ("alice", "dev")
        async with open_chat("127.0.0.1", server.port, nick="bob", room="#dev") as bob:
            while await alice.next_event(5) != Joined("dev", "bob"):
                pass
            await bob.say("hi alice")
            async for event in alice.events():
                if isinstance(event, Message):
                    assert event == Message("dev", "bob", "hi alice")
                    break
            assert (await bob.who()).nicks == ("alice", "bob")
            assert await bob.rooms() == RoomList(2, (("dev", 2), ("lobby", 0)))
        while not isinstance(left := await alice.next_event(5), Left):
            pass
        assert left == Left("dev", "bob", "quit")
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_library_reports_a_taken_nick(start_server: StartChat) -> None:
    server = await start_server()
    async with open_chat("127.0.0.1", server.port, nick="alice"):
        with pytest.raises(ChatRefused) as info:
            async with open_chat("127.0.0.1", server.port, nick="alice"):
                pass
    assert info.value.error.code == ChatCode.NICK_TAKEN


async def test_library_sees_a_rename_of_itself(start_server: StartChat) -> None:
    server = await start_server()
    async with open_chat("127.0.0.1", server.port) as chat:
        old = chat.nick
        await chat.set_nick("zed")
        assert chat.nick == "zed"
        while (event := await chat.next_event(5)) != Renamed(old, "zed"):
            assert isinstance(event, Joined)


async def test_library_keeps_messages_that_came_before_its_welcome(
    nursery: trio.Nursery,
) -> None:
    # A server that says a room message before it has read the preface, as
    # the chat server does when the room speaks in the instant after accept.
    async def server(stream: trio.SocketStream) -> None:
        await stream.send_all(b"[#lobby] <alice> early\n")
        preface = encode_preface("chat")
        assert await receive_exactly(stream, len(preface)) == preface
        await stream.send_all(b"= welcome guest-2 #lobby\n* guest-2 joined #lobby\n"
                              b"[#lobby] <alice> later\n")
        received = b""
        with trio.fail_after(5):
            while b"/quit" not in received:
                received += await stream.receive_some(1024)
        await stream.send_all(b"= bye\n")

    serve = partial(trio.serve_tcp, server, 0, host="127.0.0.1")
    [listener] = await nursery.start(serve)
    port = listener.socket.getsockname()[1]
    async with open_chat("127.0.0.1", port) as chat:
        assert (chat.nick, chat.room) == ("guest-2", "lobby")
        assert [await chat.next_event(5) for _ in range(3)] == [
            Message("lobby", "alice", "early"),
            Joined("lobby", "guest-2"),
            Message("lobby", "alice", "later"),
        ]


async def test_connect_retries_with_backoff_until_the_server_is_up(
    nursery: trio.Nursery,
) -> None:
    port = free_port()
    retries: list[float] = []

    async def late_server() -> None:
        await wait_for(lambda: len(retries) >= 3)  # three refusals first, however slow
        await start_chat(nursery, port=port)

    nursery.start_soon(late_server)
    backoff = Backoff(attempts=20, initial=0.05, factor=2.0, max_delay=0.2)
    stream = await connect(
        "127.0.0.1", port, backoff=backoff, on_retry=lambda exc, d: retries.append(d)
    )
    await stream.aclose()
    assert retries[:3] == [0.05, 0.1, 0.2]
    assert all(delay <= 0.2 for delay in retries)


async def test_connect_gives_up_after_the_attempts() -> None:
    port = free_port()
    with pytest.raises(ChatClosed):
        await connect("127.0.0.1", port, backoff=Backoff(attempts=3, initial=0.01))


def test_backoff_delays_grow_and_are_bounded() -> None:
    assert list(Backoff(attempts=6, initial=0.5, factor=2, max_delay=3).delays()) == [
        0.5, 1.0, 2.0, 3, 3
    ]


class Terminal:
    """stdin, stdout and stderr of an interactive client as memory streams."""

    def __init__(self) -> None:
        self.keyboard, self.stdin = trio.testing.memory_stream_one_way_pair()
        self.stdout, self.screen = trio.testing.memory_stream_one_way_pair()
        self.stderr, self.status = trio.testing.memory_stream_one_way_pair()
        self.seen = b""

    async def sees(self, text: bytes, stream: str = "screen") -> None:
        source = self.screen if stream == "screen" else self.status
        with trio.fail_after(5):
            while text not in self.seen:
                self.seen += await source.receive_some(65536)


async def test_interactive_client_prints_joins_and_exits_zero_at_eof(
    start_server: StartChat, nursery: trio.Nursery,
) -> None:
    server = await start_server()
    term = Terminal()
    client = InteractiveClient(
        host="127.0.0.1", port=server.port, nick="alice", room=None, backoff=Backoff(attempts=2),
        stdin=term.stdin, stdout=term.stdout, stderr=term.stderr,
    )
    status: list[int] = []

    async def run() -> None:
        status.append(await client.run())

    nursery.start_soon(run)
    await term.sees(b"is now alice")
    async with open_chat("127.0.0.1", server.port, nick="bob") as bob:
        await term.sees(b"is now bob")
        await bob.say("hello alice")
        await term.sees(b"[#lobby] <bob> hello alice\n")
        await term.keyboard.send_all(b"hi bob\n")
        while not isinstance(event := await bob.next_event(5), Message):
            pass
        assert event == Message("lobby", "alice", "hi bob")
        await term.keyboard.aclose()  # EOF on stdin
        while not isinstance(event := await bob.next_event(5), Left):
            pass
        assert event == Left("lobby", "alice", "quit")
    await wait_for(lambda: status == [0])


async def test_interactive_client_reconnects_and_takes_back_its_nick() -> None:
    port = free_port()
    term = Terminal()
    client = InteractiveClient(
        host="127.0.0.1", port=port, nick="alice", room="dev",
        backoff=Backoff(attempts=30, initial=0.05, max_delay=0.2),
        stdin=term.stdin, stdout=term.stdout, stderr=term.stderr,
    )
    status: list[int] = []
    async with trio.open_nursery() as nursery:

        async def run() -> None:
            status.append(await client.run())

        first = await start_chat(nursery, port=port)
        nursery.start_soon(run)
        await term.sees(b"connected to", stream="status")
        first.lifecycle.request_shutdown("restart")
        await first.lifecycle.stopped.wait()
        await term.sees(b"shutting-down")
        second = await start_chat(nursery, port=port)
        # Back under its nick, in its room (the client asks for both again).
        await wait_for(
            lambda: "alice" in second.server.directory.by_nick
            and second.server.directory.by_nick["alice"].room == "dev"
        )
        await term.sees(b"reconnecting in", stream="status")
        await term.keyboard.aclose()
        await wait_for(lambda: status == [0])
        second.lifecycle.request_shutdown("done")


async def test_interactive_client_gives_up_when_no_server_answers() -> None:
    term = Terminal()
    client = InteractiveClient(
        host="127.0.0.1", port=free_port(), nick=None, room=None,
        backoff=Backoff(attempts=3, initial=0.01),
        stdin=term.stdin, stdout=term.stdout, stderr=term.stderr,
    )
    with trio.fail_after(5):
        assert await client.run() == 1
    await term.sees(b"cannot connect", stream="status")


async def test_interactive_client_does_not_come_back_when_kicked(
    start_server: StartChat, nursery: trio.Nursery
) -> None:
    server = await start_server()
    term = Terminal()
    client = InteractiveClient(
        host="127.0.0.1", port=server.port, nick="mallory", room=None,
        backoff=Backoff(attempts=5, initial=0.01),
        stdin=term.stdin, stdout=term.stdout, stderr=term.stderr,
    )
    status: list[int] = []

    async def run() -> None:
        status.append(await client.run())

    nursery.start_soon(run)
    await term.sees(b"connected to", stream="status")
    await server.console_input.send_all(b"/kick mallory flooding\n")
    await term.sees(b"! kicked: flooding")
    await wait_for(lambda: status == [1])
    await term.sees(b"not reconnecting", stream="status")
    assert server.counters.connections_total == 1
