"""The chat page of the protocol reference (docs/reference/protocol/chat.md) matches the code."""

from __future__ import annotations

import re

import pytest

from services.chat import events
from services.chat.classic import CLASSIC_RECV
from services.chat.codec import (
    LIST_LIMIT,
    encode_server_event,
    parse_client_line,
    parse_server_line,
)
from services.chat.config import DEFAULT_MAX_RATE, DEFAULT_QUEUE_SIZE
from services.chat.detect import DEFAULT_WINDOW
from services.chat.directory import NOTICE_LIMIT
from services.chat.events import ChatCode, Quit, Say, SetNick
from services.chat.protocol import DEFAULT_MAX_LINE
from services.runtime.connection import MAX_BATCH
from services.wire import encode_preface
from tests.support.docblocks import ROOT

CHAT = (ROOT / "docs" / "reference" / "protocol" / "chat.md").read_text(encoding="utf-8")
CLASSIC = (ROOT / "docs" / "reference" / "protocol" / "classic.md").read_text(encoding="utf-8")


def flat(text: str) -> str:
    """``text`` with every run of white space one space: prose may wrap anywhere."""
    return " ".join(text.split())


def server_line_rows() -> list[tuple[str, str]]:
    table = CHAT.split("### Server lines", 1)[1].split("###", 1)[0]
    return re.findall(r"^\| `([^`]+)` \| `(\w+)` \|", table, re.MULTILINE)


def test_server_line_table_is_complete() -> None:
    documented = {name for _, name in server_line_rows()}
    assert documented == {cls.__name__ for cls in events.ServerEvent.__args__}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "name"), server_line_rows())
def test_each_documented_server_line_parses_as_its_event(line: str, name: str) -> None:
    event = parse_server_line(line)
    assert type(event).__name__ == name
    assert encode_server_event(event) == line.encode() + b"\n"


def test_every_chat_error_code_is_documented() -> None:
    table = CHAT.split("## Errors", 1)[1].split("##", 1)[0]
    assert set(ChatCode) <= set(re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE))


def test_documented_limits_match_the_code() -> None:
    assert f"**{DEFAULT_WINDOW:g} s**" in flat(CHAT)
    assert f"`--max-line` bytes (default {DEFAULT_MAX_LINE})" in flat(CHAT)
    assert f"(`--queue-size` lines, default {DEFAULT_QUEUE_SIZE})" in flat(CHAT)
    assert f"**Each read of up to {CLASSIC_RECV} bytes is one message**" in flat(CLASSIC)
    assert f"list at most {LIST_LIMIT} names" in flat(CHAT)
    assert f"`--notice-limit` members (default {NOTICE_LIMIT})" in flat(CHAT)
    assert f"(batched, up to {MAX_BATCH // 1024} KiB)" in flat(CHAT)
    assert f"(default {DEFAULT_MAX_RATE:g}, after a burst of as many)" in flat(CHAT)


def test_documented_session_preface_matches() -> None:
    hex_line = next(line for line in CHAT.splitlines() if line.startswith("C: 00"))
    assert bytes.fromhex(hex_line[3:].split("  ")[0]) == encode_preface("chat")


def test_documented_session_lines_parse() -> None:
    session = CHAT.split("A session on the wire", 1)[1].split("```", 2)[1]
    server_lines = [line[3:] for line in session.splitlines() if line.startswith("S: ")]
    client_lines = [line[3:] for line in session.splitlines()[2:] if line.startswith("C: ")]
    assert len(server_lines) == 7
    for line in server_lines:
        parse_server_line(line)
    assert [parse_client_line(line) for line in client_lines] == [
        SetNick("alice"), Say("hello"), Quit()
    ]
