"""The operator console, driven through memory streams."""

from __future__ import annotations

import trio

from services.chat.events import ChatCode, Error, Joined, Left, Message, Private
from tests.support.peers import joined
from tests.support.servers import StartChat
from tests.support.waiting import wait_for


class Operator:
    def __init__(self, server: object) -> None:
        self.input = server.console_input
        self.output = server.console_output
        self.seen = b""

    async def type(self, line: str) -> None:
        await self.input.send_all(line.encode() + b"\n")

    async def sees(self, text: str) -> str:
        """Wait for the console line containing ``text``; return it."""
        with trio.fail_after(5):
            while True:
                for line in self.seen.decode().splitlines():
                    if text in line:
                        self.seen = self.seen.split(line.encode(), 1)[1]
                        return line
                self.seen += await self.output.receive_some(4096)


async def test_operator_speaks_to_lobby_rooms_and_one_client(start_server: StartChat) -> None:
    server = await start_server()
    op = Operator(server)
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")
    await bob.send(b"/join dev\n")
    await bob.expect(Joined)
    await op.type("hello lobby")
    assert await alice.expect(Message) == Message("lobby", "operator", "hello lobby")
    await op.type("#dev hello dev")
    assert await bob.expect(Message) == Message("dev", "operator", "hello dev")
    await op.type("@alice a secret")
    assert await alice.expect(Private) == Private("alice", "operator", "a secret")
    await op.type("/all everyone")
    assert await alice.expect(Message) == Message("lobby", "operator", "everyone")
    assert await bob.expect(Message) == Message("dev", "operator", "everyone")
    await alice.send(b"/msg operator help me\n")
    assert await op.sees("[@operator] <alice> help me")
    for peer in (alice, bob):
        await peer.aclose()


async def test_operator_who_rooms_and_errors(start_server: StartChat) -> None:
    server = await start_server()
    op = Operator(server)
    alice = await joined(server.port, "alice")
    await op.type("/who")
    assert await op.sees("= who") == "= who #lobby 1 alice"
    await op.type("/rooms")
    assert await op.sees("= rooms") == "= rooms 1 #lobby:1"
    await op.type("@nobody hi")
    assert await op.sees("! no-such-nick") == "! no-such-nick: no client is called nobody"
    await op.type("/frob")
    assert (await op.sees("!")).startswith("! unknown-command")
    await op.type("/stats")
    assert '"connections_open": 1' in await op.sees("= stats")
    await alice.aclose()


async def test_kick_tells_the_client_and_its_room(start_server: StartChat) -> None:
    server = await start_server()
    op = Operator(server)
    alice = await joined(server.port, "alice")
    mallory = await joined(server.port, "mallory")
    await op.type("/kick mallory spamming")
    assert (await mallory.drain())[-1] == Error(ChatCode.KICKED, "spamming")
    assert await alice.expect(Left) == Left("lobby", "mallory", "kicked")
    await mallory.aclose()
    await alice.aclose()
    await wait_for(lambda: server.counters.tasks_open == 0)


async def test_console_eof_does_not_stop_the_server(start_server: StartChat) -> None:
    server = await start_server()
    await server.console_input.aclose()
    with trio.fail_after(5):
        await server.console_source.eof_read.wait()  # the console has seen its input end
    alice = await joined(server.port, "alice")
    bob = await joined(server.port, "bob")
    await alice.send(b"still here\n")
    assert await bob.expect(Message) == Message("lobby", "alice", "still here")
    assert not server.lifecycle.is_draining
    for peer in (alice, bob):
        await peer.aclose()


async def test_console_shutdown_command_drains_the_server(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port)
    await Operator(server).type("/shutdown")
    last = (await alice.drain())[-1]
    assert isinstance(last, Error) and last.code == ChatCode.SHUTTING_DOWN
    await alice.aclose()
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    assert server.lifecycle.reason == "console"
