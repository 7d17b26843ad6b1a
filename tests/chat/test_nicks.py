"""Nicknames: one per name whatever its case, and none that passes for the server's own."""

from __future__ import annotations

import pytest

from services.chat.events import ChatCode, Error, Private, Renamed
from services.chat.grammar import is_reserved_nick, nick_key
from tests.support.peers import joined
from tests.support.servers import StartChat


@pytest.mark.parametrize(
    "nick",
    ["operator", "Operator", "OPERATOR", "0perator", "0perat0r", "op_erator", "op.erat0r",
     "server", "SERVER", "5erver", "s3rver", "guest-1", "guest-42", "GUEST-7"],
)
def test_reserved_names_and_look_alikes_are_refused(nick: str) -> None:
    assert is_reserved_nick(nick)


@pytest.mark.parametrize("nick", ["alice", "operators", "observer", "guest", "guest-x", "guests-1"])
def test_ordinary_names_are_not_reserved(nick: str) -> None:
    assert not is_reserved_nick(nick)


def test_nicks_compare_without_case() -> None:
    assert nick_key("Alice") == nick_key("alice") == nick_key("ALICE")


async def test_a_nick_differing_only_in_case_is_taken(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port, "Alice")
    bob = await joined(server.port)
    await bob.send(b"/nick alice\n")
    assert await bob.expect(Error) == Error(ChatCode.NICK_TAKEN, "alice is taken")
    assert server.counters.errors_by_reason[ChatCode.NICK_TAKEN] == 1
    for peer in (alice, bob):
        await peer.aclose()


@pytest.mark.parametrize("nick", ["0perator", "Server", "guest-99"])
async def test_reserved_names_are_refused_by_the_server(
    start_server: StartChat, nick: str
) -> None:
    server = await start_server()
    peer = await joined(server.port)
    await peer.send(f"/nick {nick}\n".encode())
    assert await peer.expect(Error) == Error(ChatCode.BAD_NICK, f"{nick} is reserved")
    assert server.counters.errors_by_reason[ChatCode.BAD_NICK] == 1
    await peer.aclose()


async def test_private_messages_find_a_nick_in_any_case_shown_as_registered(
    start_server: StartChat,
) -> None:
    server = await start_server()
    alice = await joined(server.port, "Alice")
    bob = await joined(server.port, "bob")
    await bob.send(b"/msg ALICE hi\n")
    assert await alice.expect(Private) == Private("Alice", "bob", "hi")
    assert await bob.expect(Private) == Private("Alice", "bob", "hi")
    for peer in (alice, bob):
        await peer.aclose()


async def test_a_client_may_change_the_case_of_its_own_nick(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port, "alice")
    await alice.send(b"/nick Alice\n")
    assert await alice.expect(Renamed) == Renamed("alice", "Alice")
    await alice.send(b"/msg alice to myself\n")
    assert await alice.expect(Private) == Private("Alice", "Alice", "to myself")
    await alice.aclose()


async def test_the_operator_kicks_a_nick_in_any_case(start_server: StartChat) -> None:
    server = await start_server()
    alice = await joined(server.port, "Alice")
    await server.console_input.send_all(b"/kick alice bye\n")
    assert await alice.expect(Error) == Error(ChatCode.KICKED, "bye")
    await alice.aclose()
