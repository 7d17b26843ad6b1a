"""The chat server over loopback: rooms, nicknames, ordering, limits, failures."""

from __future__ import annotations

import socket
import struct

import trio

from services.chat.events import (
    Bye,
    ChatCode,
    Error,
    Joined,
    Left,
    Message,
    Private,
    Renamed,
    RoomList,
    WhoList,
)
from tests.support.peers import LinePeer, joined
from tests.support.servers import StartChat
from tests.support.waiting import wait_for


async def test_welcome_join_notice_and_message(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")
    assert await alice.expect(Joined) == Joined("lobby", bob_nick := "guest-2")
    assert await alice.expect(Renamed) == Renamed(bob_nick, "bob")
    await alice.send(b"hello bob\n")
    assert await bob.expect(Message) == Message("lobby", "alice", "hello bob")
    await bob.aclose()
    assert await alice.expect(Left) == Left("lobby", "bob", "closed")
    await alice.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.extra["messages_received"] == 1


async def test_nc_user_in_line_mode_gets_human_lines(start_server: StartChat) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"/nick carol\r\n")
        data = b""
        with trio.fail_after(5):
            while b"is now carol" not in data:
                data += await stream.receive_some(1024)
    assert data == b"= welcome guest-1 #lobby\n* guest-1 joined #lobby\n* guest-1 is now carol\n"


async def test_rooms_who_and_private_messages(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")
    await bob.send(b"/join #dev\n")
    assert await bob.expect(Joined) == Joined("dev", "bob")
    assert await alice.expect(Left) == Left("lobby", "bob", "moved to #dev")
    await alice.send(b"/rooms\n")
    assert await alice.expect(RoomList) == RoomList(2, (("dev", 1), ("lobby", 1)))
    await bob.send(b"/who\n")
    assert await bob.expect(WhoList) == WhoList("dev", 1, ("bob",))
    await alice.send(b"in the lobby\n/msg bob psst\n")
    assert await bob.expect(Private) == Private("bob", "alice", "psst")
    assert await alice.expect(Private) == Private("bob", "alice", "psst")
    await alice.send(b"/msg nobody hi\n/nick bob\n/nick operator\n/frob\n")
    codes = [(await alice.expect(Error)).code for _ in range(4)]
    assert codes == [ChatCode.NO_SUCH_NICK, ChatCode.NICK_TAKEN, ChatCode.BAD_NICK,
                     ChatCode.UNKNOWN_COMMAND]
    await alice.send(b"/quit gone\n")
    assert await alice.expect(Bye) == Bye()
    assert await alice.event() is None
    for peer in (alice, bob):
        await peer.aclose()


async def test_fifty_clients_get_every_message_in_per_sender_order(
    start_server: StartChat,
) -> None:
    server = await start_server()
    clients, count, per_sender = [], 50, 20
    for i in range(count):
        clients.append(await joined(server.port, f"c{i}"))
    await wait_for(lambda: len(server.server.directory.rooms["lobby"]) == count)
    received: dict[int, dict[str, list[int]]] = {}

    async def run(i: int, peer: LinePeer) -> None:
        async def read() -> None:
            seen: dict[str, list[int]] = {}
            total = 0
            while total < (count - 1) * per_sender:
                event = await peer.event(timeout=20)
                assert event is not None
                if isinstance(event, Message):
                    seen.setdefault(event.nick, []).append(int(event.text.split()[1]))
                    total += 1
            received[i] = seen

        async with trio.open_nursery() as inner:
            inner.start_soon(read)
            for n in range(per_sender):
                await peer.send(f"msg {n}\n".encode())

    async with trio.open_nursery() as group:
        for i, peer in enumerate(clients):
            group.start_soon(run, i, peer)
    for i in range(count):
        assert set(received[i]) == {f"c{j}" for j in range(count) if j != i}
        assert all(seq == list(range(per_sender)) for seq in received[i].values())
    assert server.counters.extra["deliveries"] == count * (count - 1) * per_sender
    assert server.counters.extra["slow_consumers"] == 0
    for peer in clients:
        await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_slow_consumer_is_disconnected_and_others_are_not_delayed(
    start_server: StartChat,
) -> None:
    server = await start_server(queue_size=64, send_timeout=30)
    # A client that never reads, with the smallest receive buffer the kernel allows.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    slow.setblocking(False)
    slow_stream = trio.SocketStream(trio.socket.from_stdlib_socket(slow))
    await slow_stream.socket.connect(("127.0.0.1", server.port))
    await slow_stream.send_all(b"\x00netlab/1 chat\n/nick slow\n")
    await wait_for(lambda: "slow" in server.server.directory.by_nick)
    sender = await joined(server.port, "sender")
    fast = await joined(server.port, "fast")
    line = "x" * 1000
    worst = 0.0
    sent = 0
    with trio.fail_after(30):
        while "slow" in server.server.directory.by_nick:
            start = trio.current_time()
            await sender.send(f"{sent} {line}\n".encode())
            event = await fast.expect(Message)
            worst = max(worst, trio.current_time() - start)
            assert event.text.startswith(f"{sent} ")
            sent += 1
    left = await fast.expect(Left)
    assert left == Left("lobby", "slow", "slow-consumer")
    # Bound documented in docs/reference/protocol/chat.md: others never wait on a slow client;
    # 1 s here is a generous margin for a loaded test machine.
    assert worst < 1.0
    assert server.counters.extra["slow_consumers"] == 1
    assert sent < 64 + 10_000  # queue + kernel buffers, not unbounded
    await slow_stream.aclose()
    for peer in (sender, fast):
        await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0, timeout=10)
    assert server.counters.errors_by_reason["slow-consumer"] == 1


async def test_oversized_line_is_refused_and_the_connection_goes_on(
    start_server: StartChat,
) -> None:
    server = await start_server(max_line=64)
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")
    await alice.send(b"y" * 500 + b"\nafter\n")
    error = await alice.expect(Error)
    assert error.code == "line-too-long"
    assert await bob.expect(Message) == Message("lobby", "alice", "after")
    await alice.send(b"\xff\xfe\n")
    assert (await alice.expect(Error)).code == "bad-encoding"
    for peer in (alice, bob):
        await peer.aclose()


async def test_idle_client_is_told_and_closed(start_server: StartChat) -> None:
    server = await start_server(idle_timeout=0.3)
    alice = await joined(server.port)
    events = await alice.drain()
    assert [e.code for e in events if isinstance(e, Error)] == [ChatCode.IDLE_TIMEOUT]
    await alice.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.errors_by_reason[ChatCode.IDLE_TIMEOUT] == 1


async def test_max_clients_refused_with_a_reason(start_server: StartChat) -> None:
    server = await start_server(max_clients=2)
    first, second = await joined(server.port), await joined(server.port)
    third = await LinePeer.connect(server.port)
    assert await third.drain() == [Error(ChatCode.BUSY,
                                         "2 clients connected already; try again later")]
    for peer in (first, second, third):
        await peer.aclose()
    assert server.counters.connections_refused == 1


async def test_rst_fin_and_half_close_leave_no_task_behind(start_server: StartChat) -> None:
    server = await start_server()
    watcher = await joined(server.port, "watcher")
    # RST: SO_LINGER 0 then close.
    rst = await joined(server.port, "rst")
    rst.stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    await rst.aclose()
    # FIN: a plain close.
    fin = await joined(server.port, "fin")
    await fin.aclose()
    # Half-close: our side ends, yet we still read what the server owes us.
    half = await joined(server.port, "half")
    await half.send(b"last words\n/who\n")
    await half.stream.send_eof()
    assert await half.drain() == [WhoList("lobby", 2, ("half", "watcher"))]
    await half.aclose()
    reasons, messages = {}, []
    while len(reasons) < 3:
        event = await watcher.event()
        if isinstance(event, Left):
            reasons[event.nick] = event.reason
        elif isinstance(event, Message):
            messages.append(event)
    assert reasons == {"rst": "reset", "fin": "closed", "half": "closed"}
    assert messages == [Message("lobby", "half", "last words")]
    await watcher.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.connections_open == 0


async def test_bad_preface_gets_an_error_and_a_close(start_server: StartChat) -> None:
    server = await start_server()
    peer = await LinePeer.connect(server.port, preface=False)
    await peer.send(b"\x00netlab/1 exec\n")
    [error] = await peer.drain()
    assert isinstance(error, Error) and error.code == "bad-preface"
    await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_graceful_shutdown_tells_every_client(start_server: StartChat) -> None:
    server = await start_server()
    peers = [await joined(server.port) for _ in range(3)]
    silent = await trio.open_tcp_stream("127.0.0.1", server.port)  # not yet detected
    server.lifecycle.request_shutdown("test")
    for peer in peers:
        events = await peer.drain()
        assert events[-1] == Error(ChatCode.SHUTTING_DOWN, "server is shutting down (test)")
        await peer.aclose()
    with trio.fail_after(2):  # well within the 5 s grace period
        await server.lifecycle.stopped.wait()
    await silent.aclose()
    assert server.counters.tasks_open == 0


async def test_a_flooding_client_is_slowed_down_not_disconnected(start_server: StartChat) -> None:
    server = await start_server(max_rate=100)
    flood = await joined(server.port, "flood")
    other = await joined(server.port, "other")
    start = trio.current_time()
    await flood.send(b"".join(b"%d\n" % n for n in range(150)))
    texts = [(await other.expect(Message)).text for _ in range(150)]
    elapsed = trio.current_time() - start
    assert texts == [str(n) for n in range(150)]
    # A burst of 100, then 100 lines/s: 150 lines need 100 + 100 * t >= 150.
    assert elapsed >= 0.45
    assert server.counters.extra["throttled"] > 0
    assert server.counters.extra["slow_consumers"] == 0
    for peer in (flood, other):
        await peer.aclose()


async def test_large_rooms_get_no_notices_but_each_client_hears_of_itself(
    start_server: StartChat,
) -> None:
    server = await start_server(notice_limit=2)
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")  # the room has 2 members: notices still flow
    assert await alice.expect(Renamed) == Renamed("guest-2", "bob")
    carol = await joined(server.port, "carol")  # 3 members: carol alone hears of her join
    await carol.send(b"hi all\n")
    # The very next event: no notice of carol came before her message.
    assert await alice.event() == Message("lobby", "carol", "hi all")
    assert await bob.event() == Message("lobby", "carol", "hi all")
    await carol.aclose()
    await bob.send(b"/who\n")
    # Carol's leave took the room back to 2 members, so it was announced.
    assert await bob.event() == Left("lobby", "carol", "closed")
    assert await bob.event() == WhoList("lobby", 2, ("alice", "bob"))
    for peer in (alice, bob):
        await peer.aclose()


async def test_a_client_silent_from_the_start_is_told_and_closed(start_server: StartChat) -> None:
    server = await start_server(idle_timeout=0.2)
    peer = await LinePeer.connect(server.port, preface=False)
    assert await peer.drain() == [Error(ChatCode.IDLE_TIMEOUT, "nothing received for 0.2 s")]
    await peer.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.errors_by_reason == {ChatCode.IDLE_TIMEOUT: 1}
