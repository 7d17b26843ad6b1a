"""Run inside a client container: three chat clients exchange messages.

Each client sends MESSAGES lines to a fresh room; each must receive every
other client's lines, in the order they were sent. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import uuid
from contextlib import AsyncExitStack

import trio

from services.chat.client import ChatClient, open_chat
from services.chat.events import Message

HOST, PORT = sys.argv[1], int(sys.argv[2])
NICKS = ("ann", "bob", "cid")
MESSAGES = 20


async def collect(client: ChatClient, nick: str, received: dict[str, list[str]]) -> None:
    expected = MESSAGES * (len(NICKS) - 1)
    got = 0
    while got < expected:
        event = await client.next_event()
        if isinstance(event, Message) and event.nick != nick:
            received.setdefault(event.nick, []).append(event.text)
            got += 1


async def main() -> None:
    room = "it-" + uuid.uuid4().hex[:8]
    received: dict[str, dict[str, list[str]]] = {nick: {} for nick in NICKS}
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(open_chat(HOST, PORT, nick=n, room=room))
                   for n in NICKS]
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                for client, nick in zip(clients, NICKS, strict=True):
                    nursery.start_soon(collect, client, nick, received[nick])
                for i in range(MESSAGES):
                    for client, nick in zip(clients, NICKS, strict=True):
                        await client.say(f"{nick}:{i}")
        for client in clients:
            await client.quit()
    print(json.dumps({"room": room, "received": received}))


trio.run(main)
