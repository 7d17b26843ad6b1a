"""The protocol reference's overview (docs/reference/protocol/overview.md) matches the code."""

from __future__ import annotations

import re

from netlab.docgen import marked
from services.wire import ErrorCode, encode_frame, encode_preface
from services.wire.frames import MAX_JSON_PAYLOAD
from tests.support.docblocks import ROOT

DOC = (ROOT / "docs" / "reference" / "protocol" / "overview.md").read_text(encoding="utf-8")


def documented_codes() -> set[str]:
    found = marked("common-codes").search(DOC)
    assert found is not None
    return set(re.findall(r"^\| `([a-z-]+)` \|", found[2], re.MULTILINE))


def test_the_common_error_table_lists_every_wire_code() -> None:
    assert documented_codes() == {code.value for code in ErrorCode}


def test_documented_preface_bytes_match() -> None:
    hex_line = next(line for line in DOC.splitlines() if line.startswith("00 6e"))
    prefix = bytes.fromhex(hex_line.split("<service>")[0])
    assert encode_preface("chat").startswith(prefix)
    assert encode_preface("chat")[len(prefix):] == b"chat\n"
    assert 'preface = %x00 %s"netlab/1" SP service LF' in DOC


def test_documented_frame_header_matches() -> None:
    assert "| 1 byte | u32, big end." in DOC
    assert encode_frame(1, b"ab")[:5] == bytes([1, 0, 0, 0, 2])
    assert f"at most {MAX_JSON_PAYLOAD // 1024} KiB" in DOC
