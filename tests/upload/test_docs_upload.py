"""The upload pages of the protocol reference and README.md's upload section match the code."""

from __future__ import annotations

import re
import sys

import trio

from services.upload.codec import Kind, decode_payload
from services.upload.events import UploadErrorCode
from services.upload.protocol import TRANSITIONS, State
from services.wire.preface import encode_preface
from tests.support.docblocks import ROOT
from tests.support.servers import StartUpload


def section(path: str) -> str:
    text = (ROOT / path).read_text(encoding="utf-8")
    return text.split("<!-- upload:begin -->", 1)[1].split("<!-- upload:end -->", 1)[0]


REFERENCE = ROOT / "docs" / "reference" / "protocol"
DOC = NETLAB_DOC = (REFERENCE / "upload.md").read_text(encoding="utf-8")
CLASSIC_DOC = (REFERENCE / "classic.md").read_text(encoding="utf-8").split(
    "## Upload", 1)[1].split("\n## ", 1)[0]
FRAME_LINE = re.compile(r"^[CS] ((?:[0-9a-f]{2} ){4}[0-9a-f]{2})(?:  (.*))?$", re.MULTILINE)


def test_every_upload_error_code_is_documented_with_a_row() -> None:
    table = DOC.split("<!-- upload-errors:begin -->", 1)[1].split("<!-- upload-errors:end", 1)[0]
    rows = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE))
    assert {code.value for code in UploadErrorCode} <= rows


def test_message_table_matches_the_kind_bytes() -> None:
    rows = dict(re.findall(r"^\| `0x([0-9a-f]{2})` \| ([A-Z]+) \|", DOC, re.MULTILINE))
    assert {name: int(kind, 16) for kind, name in rows.items()} == {
        kind.name: int(kind) for kind in Kind
    }


def test_every_hex_example_is_a_valid_frame() -> None:
    lines = FRAME_LINE.findall(NETLAB_DOC)
    assert len(lines) >= 15
    for header, payload_text in lines:
        raw = bytes.fromhex(header)
        payload = payload_text.encode("utf-8")
        assert raw[1:5] == len(payload).to_bytes(4, "big"), header
        decode_payload(raw[0], payload)  # raises if the example is not valid


def test_preface_bytes_match() -> None:
    assert encode_preface("upload").hex(" ") in DOC


def test_state_diagram_names_every_state() -> None:
    states = {s for s, _, _ in TRANSITIONS} | set(TRANSITIONS.values())
    for state in states - {State.BROKEN}:
        assert state.name in DOC, state


def test_classic_example_bytes_match_their_text() -> None:
    examples = re.findall(r"^[CS] ((?:[0-9a-f]{2} )+)\s+(\S+)$", CLASSIC_DOC, re.MULTILINE)
    assert len(examples) == 3
    for hexes, text in examples:
        assert bytes.fromhex(hexes) == text.encode()


async def test_readme_library_example_runs(start_server: StartUpload, tmp_path) -> None:
    readme = section("README.md")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    server = await start_server()
    code = code.replace("18002", str(server.port))
    result = await trio.run_process(
        [sys.executable, "-c", code], cwd=tmp_path, capture_stdout=True, capture_stderr=True,
    )
    out = result.stdout.decode()
    assert out.startswith("hello.txt 5 ")
    assert (tmp_path / "hello-copy.txt").read_bytes() == b"hello"
    assert "['hello.txt']" in out
