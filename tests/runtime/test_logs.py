"""Log lines: one event per line whatever a peer puts in a field."""

from __future__ import annotations

import pytest

from services.runtime.logs import format_fields


@pytest.mark.parametrize(
    ("char", "escape"),
    [
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\x00", "\\x00"),
        ("\x1b", "\\x1b"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),
        ("\x9b", "\\x9b"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("\u202e", "\\u202e"),
        ("\u200b", "\\u200b"),
        ("\ufeff", "\\ufeff"),
    ],
)
def test_every_non_printable_character_is_escaped(char: str, escape: str) -> None:
    line = format_fields("stored", {"name": f"a{char}event=stored name=forged"})
    assert char not in line
    assert line == f'event=stored name="a{escape}event=stored name=forged"'


def test_a_forged_line_stays_inside_its_field() -> None:
    forged = "x\r\x1b[2K\u2028ts=now level=INFO logger=netlab.upload event=stored name=evil"
    line = format_fields("run", {"command": forged})
    assert line.splitlines() == [line]
    assert line.count("event=") == 2 and line.startswith('event=run command="x\\r\\x1b[2K\\u2028')


def test_printable_text_is_unchanged_and_quotes_are_escaped() -> None:
    assert format_fields("connect", {"peer": "127.0.0.1:5", "nick": "zoë"}) == (
        "event=connect peer=127.0.0.1:5 nick=zoë"
    )
    assert format_fields("say", {"text": 'a "b" \\c'}) == 'event=say text="a \\"b\\" \\\\c"'


def test_empty_values_are_quoted() -> None:
    assert format_fields("x", {"a": ""}) == 'event=x a=""'
