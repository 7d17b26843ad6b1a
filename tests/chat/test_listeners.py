"""Clients are in #lobby from the moment they connect: listeners, late speakers, crowds."""

from __future__ import annotations

import socket

import trio

from services.chat.events import ChatCode, Error, Joined, Left, Message, ServerEvent, Welcome
from services.wire.preface import encode_preface
from tests.support.peers import LinePeer, joined
from tests.support.servers import ChatHandle, StartChat
from tests.support.waiting import receive_exactly, wait_for


async def lobby_holds(server: ChatHandle, count: int) -> None:
    """Wait until the server has registered ``count`` clients in the lobby."""
    await wait_for(lambda: len(server.server.directory.rooms["lobby"]) == count)


async def test_a_listener_that_never_writes_hears_three_other_clients(
    start_server: StartChat,
) -> None:
    server = await start_server()
    listener = await LinePeer.connect(server.port, preface=False)  # sends nothing, ever
    await lobby_holds(server, 1)
    alice = await joined(server.port, "alice", preface=False)  # nc
    bob = await joined(server.port, "bob")  # netlab
    async with await trio.open_tcp_stream(server.host, server.port) as tutorial:
        await lobby_holds(server, 4)
        await alice.send(b"one\n")
        # Event by event: nothing but the conversation reaches a client whose mode is unknown.
        assert await listener.event() == Message("lobby", "alice", "one")
        await bob.send(b"two\n")
        assert await listener.event() == Message("lobby", "bob", "two")
        heard = b"[#lobby] <alice> one\n[#lobby] <bob> two\n"
        # The tutorial's client, before its first message, has the same lines waiting.
        assert await receive_exactly(tutorial, len(heard)) == heard
        await tutorial.send_all(b"three")  # no newline: classic, once the window has passed
        assert await listener.event() == Message("lobby", "guest-4", "three")
        assert [(await alice.expect(Message)).text for _ in range(2)] == ["two", "three"]
    # The listener is still in the lobby once the tutorial's client has gone.
    directory = server.server.directory
    await wait_for(lambda: directory.who("lobby").nicks == ("alice", "bob", "guest-1"))
    for peer in (listener, alice, bob):
        await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_a_listener_gets_its_welcome_when_it_first_speaks(start_server: StartChat) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream(server.host, server.port) as nc:
        await lobby_holds(server, 1)
        alice = await joined(server.port, "alice")
        await alice.send(b"before you spoke\n")
        first = b"[#lobby] <alice> before you spoke\n"
        assert await receive_exactly(nc, len(first)) == first
        await nc.send_all(b"/nick carol\n")
        rest = b"= welcome guest-1 #lobby\n* guest-1 joined #lobby\n* guest-1 is now carol\n"
        assert await receive_exactly(nc, len(rest)) == rest
    assert await alice.expect(Left) == Left("lobby", "carol", "closed")
    await alice.aclose()


async def test_a_netlab_client_with_a_late_preface_still_gets_a_valid_welcome(
    start_server: StartChat,
) -> None:
    server = await start_server()
    late = await LinePeer.connect(server.port, preface=False)
    await lobby_holds(server, 1)
    alice = await joined(server.port, "alice")
    await alice.send(b"early\n")
    assert await late.event() == Message("lobby", "alice", "early")
    await late.send(encode_preface("chat") + b"/who\n")
    assert await late.event() == Welcome("guest-1", "lobby")
    assert await late.event() == Joined("lobby", "guest-1")
    assert (await late.event()).total == 2  # the answer to /who
    for peer in (late, alice):
        await peer.aclose()


async def test_a_listener_hears_the_room_until_its_idle_timeout(start_server: StartChat) -> None:
    server = await start_server(idle_timeout=0.5)
    listener = await LinePeer.connect(server.port, preface=False)
    await lobby_holds(server, 1)
    alice = await joined(server.port, "alice")
    await alice.send(b"are you there?\n")
    # Receiving is not activity: the listener hears the room until its idle timeout.
    assert await listener.drain() == [
        Message("lobby", "alice", "are you there?"),
        Error(ChatCode.IDLE_TIMEOUT, "nothing received for 0.5 s"),
    ]
    await listener.aclose()
    await alice.aclose()


async def test_the_room_hears_of_a_listener_at_connect_and_when_it_times_out(
    start_server: StartChat,
) -> None:
    server = await start_server(idle_timeout=0.5)
    alice = await joined(server.port, "alice")
    listener = await LinePeer.connect(server.port, preface=False)
    assert await alice.event() == Joined("lobby", "guest-2")
    left: list[ServerEvent] = []

    async def keep_alice_active() -> None:
        # Alice keeps asking, so that her own idle timeout never comes first.
        while not left:
            await alice.send(b"/who\n")
            event = await alice.event()
            if isinstance(event, Left):
                left.append(event)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(keep_alice_active)
        assert (await listener.event(timeout=5)) == Error(
            ChatCode.IDLE_TIMEOUT, "nothing received for 0.5 s"
        )
    assert left == [Left("lobby", "guest-2", ChatCode.IDLE_TIMEOUT)]
    for peer in (listener, alice):
        await peer.aclose()


async def test_shutdown_tells_a_listener(start_server: StartChat) -> None:
    server = await start_server()
    listener = await LinePeer.connect(server.port, preface=False)
    await lobby_holds(server, 1)
    server.lifecycle.request_shutdown("test")
    assert await listener.drain() == [
        Error(ChatCode.SHUTTING_DOWN, "server is shutting down (test)")
    ]
    await listener.aclose()
    with trio.fail_after(2):
        await server.lifecycle.stopped.wait()


async def test_listeners_count_towards_max_clients(start_server: StartChat) -> None:
    server = await start_server(max_clients=2)
    first = await LinePeer.connect(server.port, preface=False)
    second = await LinePeer.connect(server.port, preface=False)
    await lobby_holds(server, 2)
    third = await LinePeer.connect(server.port)
    assert await third.drain() == [Error(ChatCode.BUSY,
                                         "2 clients connected already; try again later")]
    for peer in (first, second, third):
        await peer.aclose()


async def test_a_listener_that_does_not_read_is_a_slow_consumer(start_server: StartChat) -> None:
    server = await start_server(queue_size=16, send_timeout=30)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow.setblocking(False)
    slow_stream = trio.SocketStream(trio.socket.from_stdlib_socket(slow))
    await slow_stream.socket.connect(("127.0.0.1", server.port))
    await lobby_holds(server, 1)
    sender = await joined(server.port, "sender")
    reader = await joined(server.port, "reader")
    line = "x" * 1000
    with trio.fail_after(30):
        while "guest-1" in server.server.directory.by_nick:
            await sender.send(f"{line}\n".encode())
            await reader.expect(Message)
    assert await reader.expect(Left) == Left("lobby", "guest-1", ChatCode.SLOW_CONSUMER)
    await slow_stream.aclose()
    for peer in (sender, reader):
        await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0, timeout=10)


async def first_line_then_read(
    stream: trio.SocketStream, i: int, received: dict[str, list[Message]]
) -> None:
    """Send line ``hello from i`` (with the preface for every fourth client) at once,
    then record the messages received until the observer's ``end``."""
    preface = encode_preface("chat") if i % 4 == 0 else b""
    await stream.send_all(preface + f"hello from {i}\n".encode())
    peer = LinePeer(stream)
    nick = ""
    messages: list[Message] = []
    while True:
        event = await peer.event(timeout=30)
        assert event is not None
        if isinstance(event, Welcome):
            nick = event.nick
        elif isinstance(event, Message):
            if event.nick == "observer":
                break
            messages.append(event)
    received[nick] = messages
    await peer.aclose()


async def observe(observer: LinePeer, count: int, seen: list[ServerEvent]) -> None:
    """Record what the observer sees until ``count`` messages, then say ``end``."""
    messages = 0
    while messages < count:
        event = await observer.event(timeout=30)
        assert event is not None
        seen.append(event)
        messages += isinstance(event, Message)
    await observer.send(b"end\n")


async def test_a_hundred_connected_clients_that_speak_at_once_lose_nothing(
    start_server: StartChat,
) -> None:
    """The measured case: every client connected, each sends its first line at once
    (no client waits for a welcome), and each gets the 99 others' messages."""
    count = 100
    server = await start_server()
    observer = await joined(server.port, "observer")
    streams = [await trio.open_tcp_stream(server.host, server.port) for _ in range(count)]
    await lobby_holds(server, count + 1)
    seen: list[ServerEvent] = []
    received: dict[str, list[Message]] = {}
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(observe, observer, count, seen)
            for i, stream in enumerate(streams):
                nursery.start_soon(first_line_then_read, stream, i, received)
    assert len(received) == count
    for nick, messages in received.items():
        assert len(messages) == count - 1, nick
        assert nick not in {m.nick for m in messages}
    # Each first line to the 99 others and the observer; the observer's end to all 100.
    assert server.counters.extra["deliveries"] == count * count + count
    await observer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0, timeout=10)


async def test_clients_that_connect_and_speak_at_once_hear_all_said_after_they_came(
    start_server: StartChat,
) -> None:
    """Each client's first line is sent with its connection; some are netlab, most nc-like.

    An observer in the lobby sees the server's one order of events: a
    client's join notice goes out when it is registered, so a client must get
    exactly the messages that come after its own join in the observer's
    order, in that order (and never its own).
    """
    count = 100
    server = await start_server()
    observer = await joined(server.port, "observer")
    seen: list[ServerEvent] = []
    received: dict[str, list[Message]] = {}

    async def client(i: int) -> None:
        stream = await trio.open_tcp_stream(server.host, server.port)
        await first_line_then_read(stream, i, received)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(observe, observer, count, seen)
            for i in range(count):
                nursery.start_soon(client, i)
    assert len(received) == count
    for nick, messages in received.items():
        joined_at = seen.index(Joined("lobby", nick))
        expected = [e for e in seen[joined_at:] if isinstance(e, Message) and e.nick != nick]
        assert messages == expected, nick
    # Not a vacuous check: the early clients heard nearly everyone.
    assert max(len(messages) for messages in received.values()) >= count - 10
    await observer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0, timeout=10)
