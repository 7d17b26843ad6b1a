"""docs/protocol.md matches the wire layer's code."""

from __future__ import annotations

import re

from services.wire import ErrorCode, encode_frame, encode_preface
from services.wire.frames import MAX_JSON_PAYLOAD
from tests.support.docblocks import ROOT

DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def documented_codes() -> set[str]:
    table = DOC.split("## Error codes", 1)[1].split("\n\n<!--", 1)[0]
    return set(re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE))


def test_common_error_table_lists_only_real_codes() -> None:
    assert documented_codes() <= {code.value for code in ErrorCode}


def test_every_error_code_is_documented() -> None:
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in DOC]
    assert not missing


def test_documented_preface_bytes_match() -> None:
    hex_line = next(line for line in DOC.splitlines() if line.startswith("00 6e"))
    prefix = bytes.fromhex(hex_line.split("<service>")[0])
    assert encode_preface("chat").startswith(prefix)
    assert encode_preface("chat")[len(prefix):] == b"chat\n"


def test_documented_frame_header_matches() -> None:
    assert "| 1 byte | u32, big end." in DOC
    assert encode_frame(1, b"ab")[:5] == bytes([1, 0, 0, 0, 2])
    assert f"at most {MAX_JSON_PAYLOAD // 1024} KiB" in DOC
