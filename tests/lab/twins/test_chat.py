"""The chat twin serves netlab's chat client, and delivers a sliced message as pieces."""

from __future__ import annotations

import trio

from lab.proxy.toxics import Slicer
from lab.twins.chat import ChatTwin
from services.chat.client import ChatClient, open_chat
from services.chat.events import Message
from tests.lab.twins.conftest import HOST, start_proxy
from tests.support.servers import start_chat

TEXT = "m alice 0 1700000000.25"
SLICER = Slicer(name="slicer", stream="upstream", average_size=4, delay=20)


async def messages(client: ChatClient, *, letters: int, timeout: float = 10.0) -> list[Message]:
    """Messages received until their texts hold ``letters`` non-blank characters."""
    received: list[Message] = []
    with trio.fail_after(timeout):
        while sum(len(m.text.replace(" ", "")) for m in received) < letters:
            event = await client.next_event()
            if isinstance(event, Message):
                received.append(event)
    return received


def texts(received: list[Message]) -> list[str]:
    return [message.text for message in received]


async def test_a_message_said_by_one_client_reaches_the_others(chat_twin: ChatTwin) -> None:
    async with open_chat(HOST, chat_twin.port, nick="bob") as bob, \
            open_chat(HOST, chat_twin.port, nick="carol") as carol, \
            open_chat(HOST, chat_twin.port, nick="alice") as alice:
        await alice.say(TEXT)
        for receiver in (bob, carol):
            got = await messages(receiver, letters=len(TEXT.replace(" ", "")))
            assert got == [Message("lobby", "alice", TEXT)]


async def test_who_and_join_answer_as_netlab_does(chat_twin: ChatTwin) -> None:
    async with open_chat(HOST, chat_twin.port, nick="bob", room="dev") as bob, \
            open_chat(HOST, chat_twin.port, nick="alice", room="dev") as alice:
        who = await alice.who()
        assert (who.room, who.total, sorted(who.nicks)) == ("dev", 2, ["alice", "bob"])
        await alice.say("hi dev")
        assert await messages(bob, letters=5) == [Message("dev", "alice", "hi dev")]


async def test_a_message_sliced_on_the_way_arrives_as_pieces(
    chat_twin: ChatTwin, nursery: trio.Nursery,
) -> None:
    proxy = await start_proxy(nursery, chat_twin.port)
    assert proxy.port is not None
    proxy.add_toxic(SLICER)  # from the first byte: the preface arrives sliced too
    async with open_chat(HOST, chat_twin.port, nick="bob") as bob, \
            open_chat(HOST, proxy.port) as alice:
        await alice.say(TEXT)
        received = await messages(bob, letters=len(TEXT.replace(" ", "")))
    assert {m.nick for m in received} == {alice.nick}
    pieces = texts(received)
    assert len(pieces) > 1 and TEXT not in pieces
    assert "".join(pieces).replace(" ", "") == TEXT.replace(" ", "")


async def test_netlab_s_chat_server_delivers_the_same_sliced_message_whole(
    nursery: trio.Nursery,
) -> None:
    server = await start_chat(nursery)
    proxy = await start_proxy(nursery, server.port)
    assert proxy.port is not None
    proxy.add_toxic(SLICER)
    async with open_chat(HOST, server.port, nick="bob") as bob, \
            open_chat(HOST, proxy.port) as alice:
        await alice.say(TEXT)
        received = await messages(bob, letters=len(TEXT.replace(" ", "")))
    assert received == [Message("lobby", alice.nick, TEXT)]
