"""The JSON rules of every control payload, and the error tables' check (pure tier).

One table of payloads and what ``decode_json`` makes of them: the rules the
protocol reference states for exec and upload alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.wire.errors import (
    ErrorCode,
    ErrorSpec,
    LocalProtocolError,
    RemoteProtocolError,
    check_sent,
    error_table,
)
from services.wire.frames import decode_json, require

# (payload, the object decoded): what the protocol accepts.
ACCEPTED: list[tuple[bytes, dict[str, Any]]] = [
    (b'{"a":1}', {"a": 1}),
    (b'{"a":null}', {}),  # null is the same as absent
    (b'{"a":1,"b":null}', {"a": 1}),
    (b'{"f":[{"x":null,"y":2}]}', {"f": [{"y": 2}]}),  # at every level
    (b'{"s":"\\ud83d\\ude00"}', {"s": "\U0001f600"}),  # a surrogate pair is one character
    (b'{"n":1e3}', {"n": 1000.0}),  # a number, not an integer: integer fields refuse it
    (b'{"n":-0.5,"big":123456789012345678901234567890}',
     {"n": -0.5, "big": 123456789012345678901234567890}),
    (b' {"a":{"a":1}} ', {"a": {"a": 1}}),  # the same key in two objects is no duplicate
]

# (payload, the code it is refused with)
REFUSED: list[tuple[bytes, ErrorCode]] = [
    (b'{"a":1,"a":2}', ErrorCode.BAD_MESSAGE),  # duplicate key
    (b'{"a":1,"b":{"c":1,"c":1}}', ErrorCode.BAD_MESSAGE),  # in a nested object too
    (b'{"a":null,"a":1}', ErrorCode.BAD_MESSAGE),  # null or not
    (b'{"a":NaN}', ErrorCode.BAD_MESSAGE),
    (b'{"a":Infinity}', ErrorCode.BAD_MESSAGE),
    (b'{"a":-Infinity}', ErrorCode.BAD_MESSAGE),
    (b'{"a":1e400}', ErrorCode.BAD_MESSAGE),  # beyond a double
    (b'{"a":-1e400}', ErrorCode.BAD_MESSAGE),
    (b'{"s":"\\ud800"}', ErrorCode.BAD_ENCODING),  # a lone surrogate is not Unicode text
    (b'{"s":["ok","\\udc00x"]}', ErrorCode.BAD_ENCODING),
    (b'{"\\ud800":1}', ErrorCode.BAD_ENCODING),  # in a key too
    (b'{"s":"\xff"}', ErrorCode.BAD_ENCODING),  # not UTF-8
    (b"\xef\xbb\xbf{}", ErrorCode.BAD_MESSAGE),  # a byte order mark
    (b"[1]", ErrorCode.BAD_MESSAGE),  # not an object
    (b"null", ErrorCode.BAD_MESSAGE),
    (b"", ErrorCode.BAD_MESSAGE),
    (b'{"a":1} {}', ErrorCode.BAD_MESSAGE),  # two values
    (b"[" * 100_000, ErrorCode.BAD_MESSAGE),  # too deep, and cut
]


@pytest.mark.parametrize(("payload", "expected"), ACCEPTED)
def test_accepted_payloads(payload: bytes, expected: dict[str, Any]) -> None:
    assert decode_json(payload) == expected


@pytest.mark.parametrize(("payload", "code"), REFUSED)
def test_refused_payloads(payload: bytes, code: ErrorCode) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_json(payload, limit=len(payload))
    assert info.value.code is code


def test_a_duplicate_key_is_named_in_the_message() -> None:
    with pytest.raises(RemoteProtocolError, match="'size' appears twice"):
        decode_json(b'{"name":"a","size":1,"size":2}')


@pytest.mark.parametrize("value", [b"4.0", b"1e3", b"true", b"false", b'"4"', b"null"])
def test_an_integer_field_takes_json_integers_only(value: bytes) -> None:
    obj = decode_json(b'{"size":' + value + b"}")
    with pytest.raises(RemoteProtocolError) as info:
        require(obj, "size", int)
    assert info.value.code is ErrorCode.BAD_MESSAGE


TABLE = error_table((
    ErrorSpec("always", True, "x"), ErrorSpec("never", False, "x"), ErrorSpec("either", None, "x"),
))


@pytest.mark.parametrize(("code", "fatal", "allowed"), [
    ("always", True, True), ("always", False, False),
    ("never", False, True), ("never", True, False),
    ("either", True, True), ("either", False, True),
    ("not-listed", True, False),
])
def test_check_sent_holds_every_error_to_its_table(code: str, fatal: bool, allowed: bool) -> None:
    if allowed:
        check_sent(TABLE, code, fatal)
    else:
        with pytest.raises(LocalProtocolError):
            check_sent(TABLE, code, fatal)


def test_a_code_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        error_table((ErrorSpec("a", True, "x"), ErrorSpec("a", False, "y")))
