"""No chat text drives a terminal: escapes, C1 controls and bidi overrides reach nobody raw.

Each class (an ESC sequence, the C1 CSI U+009B, the right-to-left override
U+202E) is sent by each kind of sender (classic, line, the operator's
console) and looked for in what each kind of recipient receives (a classic
client's raw bytes, a line client, a netlab client, the console).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
import trio

from services.chat.codec import encode_server_event
from services.chat.events import Error, Left, Message, Private
from services.chat.grammar import sanitize
from tests.support.peers import HOST, LinePeer, joined
from tests.support.servers import ChatHandle, StartChat
from tests.support.waiting import wait_for

UNSAFE = pytest.mark.parametrize(
    "unsafe", ["\x1b[2J", "\u009b2J", "\u202eevil"], ids=["esc", "c1-csi", "rlo"]
)


def said(unsafe: str) -> str:
    return f"x{unsafe}y"


def shown(unsafe: str) -> str:
    """What every recipient sees of ``said(unsafe)``: its first character replaced."""
    return f"x\ufffd{unsafe[1:]}y"


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x07", "\x1b", "\r", "\x7f", "\x85", "\x9b", "\u061c", "\u200e", "\u200f",
     "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
     "\u2028", "\u2029"],
)
def test_each_terminal_driving_character_is_replaced(char: str) -> None:
    assert sanitize(f"a{char}b") == "a\ufffdb"


def test_tab_emoji_joiners_and_other_scripts_are_kept() -> None:
    text = "a\tb 👩\u200d💻 שלום 你好 \ufffd"
    assert sanitize(text) == text


@dataclass
class Audience:
    """One recipient of each kind, all in #lobby."""

    classic: socket.socket
    line: LinePeer
    netlab: LinePeer
    console: ChatHandle

    async def classic_line(self) -> bytes:
        def read() -> bytes:
            data = b""
            while not data.endswith(b"\n"):
                chunk = self.classic.recv(1024)
                if not chunk:
                    break
                data += chunk
            return data

        return await trio.to_thread.run_sync(read)

    async def console_line(self, marker: str) -> str:
        seen = b""
        with trio.fail_after(5):
            while marker.encode() not in seen:
                seen += await self.console.console_output.receive_some(4096)
        text = seen.decode()
        return next(line for line in text.splitlines() if marker in line)

    async def aclose(self) -> None:
        self.classic.close()
        await self.line.aclose()
        await self.netlab.aclose()


async def audience(server: ChatHandle) -> Audience:
    classic = socket.create_connection((HOST, server.port), timeout=5)
    await trio.to_thread.run_sync(classic.sendall, b"here")  # no newline: classic mode
    directory = server.server.directory
    await wait_for(lambda: any(m.classic for m in directory.by_nick.values()))
    line = await joined(server.port, "linda", preface=False)
    netlab = await joined(server.port, "nina")
    return Audience(classic, line, netlab, server)


def assert_clean(data: bytes, unsafe: str) -> None:
    assert unsafe[0].encode() not in data
    assert shown(unsafe).encode() in data


@UNSAFE
async def test_a_classic_client_cannot_drive_terminals(
    start_server: StartChat, unsafe: str
) -> None:
    server = await start_server()
    seen = await audience(server)
    sender = socket.create_connection((HOST, server.port), timeout=5)
    try:
        await trio.to_thread.run_sync(sender.sendall, said(unsafe).encode())
        assert (await seen.line.expect(Message)).text == shown(unsafe)
        assert (await seen.netlab.expect(Message)).text == shown(unsafe)
        assert_clean(await seen.classic_line(), unsafe)
        assert_clean((await seen.console_line("x\ufffd")).encode(), unsafe)
    finally:
        sender.close()
        await seen.aclose()


@UNSAFE
async def test_a_line_client_cannot_drive_terminals(
    start_server: StartChat, unsafe: str
) -> None:
    server = await start_server()
    seen = await audience(server)
    sender = await joined(server.port, "sam", preface=False)
    await sender.send(f"{said(unsafe)}\n".encode())
    assert (await seen.line.expect(Message)).text == shown(unsafe)
    assert (await seen.netlab.expect(Message)).text == shown(unsafe)
    assert_clean(await seen.classic_line(), unsafe)
    await sender.send(f"/msg operator {said(unsafe)}\n".encode())
    assert_clean((await seen.console_line("<sam>")).encode(), unsafe)
    await sender.aclose()
    await seen.aclose()


@UNSAFE
async def test_the_console_cannot_drive_terminals(
    start_server: StartChat, unsafe: str
) -> None:
    server = await start_server()
    seen = await audience(server)
    await server.console_input.send_all(f"{said(unsafe)}\n".encode())
    assert (await seen.line.expect(Message)).text == shown(unsafe)
    assert (await seen.netlab.expect(Message)).text == shown(unsafe)
    assert_clean(await seen.classic_line(), unsafe)
    await server.console_input.send_all(f"@NINA {said(unsafe)}\n".encode())
    assert await seen.netlab.expect(Private) == Private("nina", "operator", shown(unsafe))
    await seen.aclose()


@UNSAFE
def test_every_server_line_is_sanitized_whatever_built_it(unsafe: str) -> None:
    for event in (Message("lobby", "a", said(unsafe)), Private("b", "a", said(unsafe)),
                  Left("lobby", "a", said(unsafe)), Error("kicked", said(unsafe))):
        assert_clean(encode_server_event(event), unsafe)
