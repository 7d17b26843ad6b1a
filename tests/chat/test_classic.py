"""The tutorial's chat client (blocking socket: one send, one recv(1024)) against the server."""

from __future__ import annotations

import socket

import trio

from services.chat.events import Message
from tests.support.peers import joined
from tests.support.servers import StartChat
from tests.support.waiting import wait_for


class TutorialClient:
    """What the tutorial's client does, in a worker thread: send, then one recv(1024)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    async def ask(self, text: str) -> bytes:
        def exchange() -> bytes:
            self.sock.send(text.encode("utf-8"))
            return self.sock.recv(1024)

        return await trio.to_thread.run_sync(exchange)

    async def recv(self) -> bytes:
        return await trio.to_thread.run_sync(self.sock.recv, 1024)

    def close(self) -> None:
        self.sock.close()


async def operator_sees(server: object, text: str) -> None:
    output = server.console_output
    seen = b""
    with trio.fail_after(5):
        while text.encode() not in seen:
            seen += await output.receive_some(4096)


async def test_operator_console_answers_a_tutorial_client(start_server: StartChat) -> None:
    server = await start_server()
    client = TutorialClient(server.port)
    try:
        async with trio.open_nursery() as inner:
            answer: list[bytes] = []

            async def ask() -> None:
                answer.append(await client.ask("hello server"))

            inner.start_soon(ask)
            await operator_sees(server, "[#lobby] <guest-1> hello server")
            await server.console_input.send_all(
                "你好, welcome\n".encode()
            )
        assert answer == ["[#lobby] <operator> 你好, welcome\n".encode()]
        # A private answer, addressed by nick.
        async with trio.open_nursery() as inner:
            inner.start_soon(ask)
            await operator_sees(server, "<guest-1> hello server")
            await server.console_input.send_all(b"@guest-1 just for you\n")
        assert answer[1] == b"[@guest-1] <operator> just for you\n"
    finally:
        client.close()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_tutorial_client_talks_with_a_line_mode_client(start_server: StartChat) -> None:
    server = await start_server()
    bob = await joined(server.port, "bob")
    client = TutorialClient(server.port)
    try:
        async with trio.open_nursery() as inner:
            answer: list[bytes] = []

            async def ask() -> None:
                answer.append(await client.ask("anyone there?"))

            inner.start_soon(ask)
            assert await bob.expect(Message) == Message("lobby", "guest-2", "anyone there?")
            await bob.send(b"yes, bob here\n")
        assert answer == [b"[#lobby] <bob> yes, bob here\n"]
    finally:
        client.close()
    await bob.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_bad_bytes_from_a_tutorial_client_close_it(start_server: StartChat) -> None:
    server = await start_server()
    client = TutorialClient(server.port)
    try:
        reply = await trio.to_thread.run_sync(lambda: (client.sock.send(b"\xff\xfe"),
                                                       client.sock.recv(1024))[1])
        assert reply == b""
    finally:
        client.close()
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.errors_by_reason["bad-encoding"] == 1


async def test_tutorial_client_is_told_of_shutdown_in_plain_text(start_server: StartChat) -> None:
    server = await start_server()
    client = TutorialClient(server.port)
    try:
        async with trio.open_nursery() as inner:
            answer: list[bytes] = []

            async def ask() -> None:
                answer.append(await client.ask("is anyone there"))

            inner.start_soon(ask)
            await operator_sees(server, "is anyone there")
            server.lifecycle.request_shutdown("SIGTERM")
        assert answer == [b"! shutting-down: server is shutting down (SIGTERM)\n"]
        assert await client.recv() == b""
    finally:
        client.close()
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()


async def test_tutorial_client_never_sees_join_notices(start_server: StartChat) -> None:
    server = await start_server()
    client = TutorialClient(server.port)
    try:
        async with trio.open_nursery() as inner:
            answer: list[bytes] = []

            async def ask() -> None:
                answer.append(await client.ask("hi"))

            inner.start_soon(ask)
            await operator_sees(server, "<guest-1> hi")
            carol = await joined(server.port, "carol")
            await carol.send(b"/who\n")
            await carol.send(b"first real message\n")
        assert answer == [b"[#lobby] <carol> first real message\n"]
        assert server.server.directory.who("lobby").nicks == ("carol", "guest-1")
    finally:
        client.close()
    await carol.aclose()


async def test_tutorial_client_hears_what_was_said_before_its_first_message(
    start_server: StartChat,
) -> None:
    server = await start_server()
    client = TutorialClient(server.port)
    try:
        await wait_for(lambda: len(server.server.directory.rooms["lobby"]) == 1)
        bob = await joined(server.port, "bob")
        await bob.send(b"said before you typed\n")
        # Its first recv, right after its first send: the room's line, as plain text.
        assert await client.ask("hello") == b"[#lobby] <bob> said before you typed\n"
        assert await bob.expect(Message) == Message("lobby", "guest-1", "hello")
    finally:
        client.close()
    await bob.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_a_long_first_message_is_cut_as_recv_1024_would(start_server: StartChat) -> None:
    server = await start_server()
    bob = await joined(server.port, "bob")
    client = TutorialClient(server.port)
    try:
        await trio.to_thread.run_sync(client.sock.send, b"a" * 1500)
        first = await bob.expect(Message)
        second = await bob.expect(Message)
        assert (len(first.text), len(second.text)) == (1024, 476)
    finally:
        client.close()
    await bob.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_lines_of_one_classic_read_reach_a_line_client_in_order(
    start_server: StartChat,
) -> None:
    server = await start_server()
    bob = await joined(server.port, "bob")
    async with await trio.open_tcp_stream(server.host, server.port) as tutorial:
        await tutorial.send_all(b"first")  # no newline within the window: a classic client
        assert (await bob.expect(Message)).text == "first"
        await tutorial.send_all(b"one\ntwo\nthree\n")  # one write, so one read of 15 bytes
        texts = [(await bob.expect(Message)).text for _ in range(3)]
    assert texts == ["one", "two", "three"]
    await bob.aclose()
