"""The longest line a chat server sends: the bound the protocol reference gives clients.

A server line carries a client's line (or an operator console line) behind a
prefix, and sanitizing turns a one-byte control character into U+FFFD, three
bytes: so the reference (docs/reference/protocol/chat.md, "The longest server
line") tells a client to accept ``3 × max(--max-line, console line) + 64``
bytes. These tests send the worst lines there are and measure what arrives.
"""

from __future__ import annotations

import trio

from services.chat.codec import encode_server_event
from services.chat.console import MAX_CONSOLE_LINE
from services.chat.events import Left, Message
from services.chat.protocol import CLIENT_MAX_LINE, MAX_LINE_LIMIT
from tests.support.docblocks import ROOT
from tests.support.peers import joined
from tests.support.servers import StartChat

NICK = "n" * 24  # the longest names make the longest prefixes
OTHER = "m" * 24


def longest_server_line(max_line: int) -> int:
    """The bound chat.md states, in bytes, without the line's ``\\n``."""
    return 3 * max(max_line, MAX_CONSOLE_LINE) + 64


def test_the_reference_states_this_bound_with_the_default_numbers() -> None:
    page = " ".join((ROOT / "docs/reference/protocol/chat.md").read_text(encoding="utf-8").split())
    assert f"`3 × max(--max-line, {MAX_CONSOLE_LINE}) + 64` bytes" in page
    default = f"{longest_server_line(2048):,}".replace(",", " ")
    assert f"({default} bytes with the default `--max-line` of 2048)" in page
    assert f"netlab's chat client accepts {CLIENT_MAX_LINE // 1024} KiB" in page


def test_netlab_clients_accept_the_longest_line_of_the_largest_max_line() -> None:
    assert longest_server_line(MAX_LINE_LIMIT) <= CLIENT_MAX_LINE


async def test_the_worst_lines_stay_within_the_bound_and_reach_netlab_clients(
    start_server: StartChat,
) -> None:
    server = await start_server()
    max_line = server.config.max_line
    sender = await joined(server.port, NICK)
    listener = await joined(server.port, OTHER)
    sizes = []

    # A message of nothing but control characters: each becomes three bytes.
    await sender.send(b"\x01" * max_line + b"\n")
    said = await listener.expect(Message)
    assert said.nick == NICK and len(said.text) == max_line
    sizes.append(len(encode_server_event(said)) - 1)

    # The console's longest line, said to the lobby by the operator.
    await server.console_input.send_all(b"\x01" * MAX_CONSOLE_LINE + b"\n")
    told = await listener.expect(Message)
    assert told.nick == "operator"
    sizes.append(len(encode_server_event(told)) - 1)

    # A leave reason as long as a /quit line can carry.
    await sender.send(b"/quit " + b"\x02" * (max_line - len(b"/quit ")) + b"\n")
    left = await listener.expect(Left)
    sizes.append(len(encode_server_event(left)) - 1)

    bound = longest_server_line(max_line)
    assert max(sizes) <= bound <= CLIENT_MAX_LINE
    assert max(sizes) > 3 * MAX_CONSOLE_LINE  # the bound is near what is sent
    for peer in (sender, listener):
        await peer.aclose()
    with trio.fail_after(5):
        await server.console_input.aclose()
