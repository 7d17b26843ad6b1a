"""The exec page of the protocol reference matches the code: kinds, examples, codes, reasons."""

from __future__ import annotations

import re

from services.remote_exec.codec import Kind, decode_payload, encode_payload
from services.remote_exec.events import ExecErrorCode, Reason
from services.wire.frames import HEADER
from tests.support.docblocks import ROOT

SECTION = (ROOT / "docs" / "reference" / "protocol" / "exec.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"^((?:[0-9a-f]{2} ){4}[0-9a-f]{2})(?:  (\{.*\})|((?: [0-9a-f]{2})*))$")


def examples() -> list[bytes]:
    frames = []
    for line in SECTION.splitlines():
        match = EXAMPLE.match(line)
        if match:
            header, json_payload, hex_payload = match.groups()
            payload = json_payload.encode() if json_payload else bytes.fromhex(hex_payload or "")
            frames.append(bytes.fromhex(header) + payload)
    return frames


def test_every_example_frame_decodes_and_re_encodes_byte_for_byte() -> None:
    frames = examples()
    assert {frame[0] for frame in frames} == {int(kind) for kind in Kind}  # one of each kind
    for frame in frames:
        kind, length = HEADER.unpack_from(frame)
        payload = frame[HEADER.size :]
        assert length == len(payload), frame
        assert encode_payload(decode_payload(Kind(kind), payload)) == payload


def test_the_kind_table_matches_the_code() -> None:
    for kind in Kind:
        assert f"| `0x{kind:02x}` | {kind.name} |" in SECTION


def test_every_exec_error_code_and_exit_reason_is_documented() -> None:
    for code in ExecErrorCode:
        assert f"| `{code}` |" in SECTION
    for reason in Reason:
        assert f"| `{reason}` |" in SECTION
