"""The protocol reference's field tables hold for the real decoders (netlab/protocol_reference.py).

Each documented field is fed through the codec of its service: the example
decodes; a required field left out or ``null`` is ``bad-message``; an
optional one left out or ``null`` decodes as its default; the values the
table accepts decode, those it refuses and those of another JSON type are
``bad-message``; a field the table does not know is ignored. And every
field the code sends is in the table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netlab.protocol_reference import (
    CHAT,
    CLASSIC,
    EXEC,
    EXEC_FIELDS,
    OVERVIEW,
    UPLOAD,
    UPLOAD_FIELDS,
    Field,
    Message,
)
from services.chat.detect import Mode
from services.remote_exec import codec as exec_codec
from services.remote_exec import config as exec_config
from services.remote_exec.classic import Turn
from services.runtime import config as runtime_config
from services.upload import codec as upload_codec
from services.upload import config as upload_config
from services.upload import protocol as upload_protocol
from services.upload.names import MAX_NAME_BYTES
from services.upload.session import LISTING_BATCH
from services.wire.errors import ErrorCode, RemoteProtocolError
from tests.support.docblocks import ROOT

Decode = Callable[[str, dict[str, Any]], object]


def decode_exec(kind: str, obj: dict[str, Any]) -> object:
    return exec_codec.decode_payload(exec_codec.Kind[kind], json.dumps(obj).encode())


def decode_upload(kind: str, obj: dict[str, Any]) -> object:
    return upload_codec.decode_payload(upload_codec.Kind[kind], json.dumps(obj).encode())


CASES = [(decode_exec, m, f) for m in EXEC_FIELDS for f in m.fields] + [
    (decode_upload, m, f) for m in UPLOAD_FIELDS for f in m.fields]
IDS = [f"{'exec' if d is decode_exec else 'upload'}-{m.kind}-{f.name}" for d, m, f in CASES]
MESSAGES = [(decode_exec, m) for m in EXEC_FIELDS] + [(decode_upload, m) for m in UPLOAD_FIELDS]
MESSAGE_IDS = [f"{'exec' if d is decode_exec else 'upload'}-{m.kind}" for d, m in MESSAGES]

OTHER_TYPES: dict[str, tuple[Any, ...]] = {
    "string": (1, True, [], {}),
    "string or null": (1, True, []),
    "integer": ("1", 1.5, 4.0, 1e3, True, [], {}),
    "integer or null": ("1", 1.5, True),
    "number": ("1", True, [], {}, float("nan"), float("inf")),
    "boolean": (1, 0, "true", []),
    "array": ({}, "x", 1),
}


def with_value(message: Message, field: Field, value: Any) -> dict[str, Any]:
    return {**message.example, **field.context, field.name: value}


def without(message: Message, field: Field) -> dict[str, Any]:
    obj = {**message.example, **field.context}
    obj.pop(field.name, None)
    return obj


def refused(decode: Decode, kind: str, obj: dict[str, Any]) -> ErrorCode:
    with pytest.raises(RemoteProtocolError) as caught:
        decode(kind, obj)
    return caught.value.code


@pytest.mark.parametrize(("decode", "message"), MESSAGES, ids=MESSAGE_IDS)
def test_the_example_decodes_and_unknown_fields_are_ignored(
    decode: Decode, message: Message
) -> None:
    event = decode(message.kind, message.example)
    assert decode(message.kind, {**message.example, "x-later-field": [1, {"a": None}]}) == event


@pytest.mark.parametrize(("decode", "message", "field"), CASES, ids=IDS)
def test_presence_is_as_documented(decode: Decode, message: Message, field: Field) -> None:
    if field.required is True:
        assert refused(decode, message.kind, without(message, field)) is ErrorCode.BAD_MESSAGE
        assert refused(decode, message.kind, with_value(message, field, None)) \
            is ErrorCode.BAD_MESSAGE
    elif field.required is False:
        absent = decode(message.kind, without(message, field))
        assert decode(message.kind, with_value(message, field, None)) == absent
    else:  # a rule between fields, such as EXIT's "exactly one of status, signal"
        assert refused(decode, message.kind, {**without(message, field), "status": None,
                                              "signal": None}) is ErrorCode.BAD_MESSAGE


@pytest.mark.parametrize(("decode", "message", "field"), CASES, ids=IDS)
def test_documented_values_are_accepted(decode: Decode, message: Message, field: Field) -> None:
    for value in field.good:
        decode(message.kind, with_value(message, field, value))


@pytest.mark.parametrize(("decode", "message", "field"), CASES, ids=IDS)
def test_values_out_of_range_or_of_another_type_are_refused(
    decode: Decode, message: Message, field: Field
) -> None:
    for value in (*field.bad, *OTHER_TYPES[field.type]):
        code = refused(decode, message.kind, with_value(message, field, value))
        assert code is ErrorCode.BAD_MESSAGE, (field.name, value)


def sent_fields(encode: Callable[[Any], bytes], event: object) -> set[str]:
    payload = encode(event)
    return set(json.loads(payload)) if payload else set()


def test_every_field_the_code_sends_is_documented() -> None:
    for decode, encode, messages in (
        (decode_exec, exec_codec.encode_payload, EXEC_FIELDS),
        (decode_upload, upload_codec.encode_payload, UPLOAD_FIELDS),
    ):
        for message in messages:
            full = {**message.example}
            for field in message.fields:
                if field.good and field.required is not True and not field.context:
                    full[field.name] = field.good[0]
            documented = {f.name for f in message.fields}
            assert sent_fields(encode, decode(message.kind, full)) <= documented, message.kind


def test_every_json_message_has_a_field_table() -> None:
    exec_json = {k.name for k in exec_codec.CONTROL_KINDS}
    assert {m.kind for m in EXEC_FIELDS} == exec_json
    upload_json = {k.name for k in upload_codec.CONTROL_KINDS} | {"END"}
    assert {m.kind for m in UPLOAD_FIELDS} == upload_json - {"LIST"}  # LIST is `{}`


def test_every_part_has_a_unique_name_across_the_pages() -> None:
    names = [name for page in (OVERVIEW, CHAT, EXEC, UPLOAD, CLASSIC) for name in page]
    assert len(names) == len(set(names))


REFERENCE = ROOT / "docs" / "reference" / "protocol"


# -- links ---------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")
MOVED = ROOT / "docs" / "protocol.md"  # the page the reference replaced: its anchors stay


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def links(page: Path) -> list[tuple[Path, str]]:
    """(target file, anchor) of every relative link of ``page``."""
    found = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        found.append(((page.parent / path).resolve() if path else page, anchor))
    return found


def test_links_from_into_and_within_the_reference_resolve() -> None:
    """Every link into, out of or within the reference (and into the page it replaced) lands."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target, anchor in links(page):
            if REFERENCE not in target.parents and REFERENCE not in page.parents \
                    and target != MOVED:
                continue
            if not target.exists():
                broken.append((page.name, str(target)))
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append((page.name, f"{target.name}#{anchor}"))
    assert broken == []


# -- the numbers the prose states ------------------------------------------------------


def flat(page: str) -> str:
    return " ".join((REFERENCE / page).read_text(encoding="utf-8").split())


def test_the_numbers_in_the_prose_are_the_codes() -> None:
    common = runtime_config.ServerConfig
    overview = flat("overview.md")
    assert f"`--handshake-timeout` (default {common.handshake_timeout:g} s)" in overview
    assert f"(default {common.idle_timeout:g}, the same for chat, exec and upload)" in overview
    assert f"(default {common.keepalive:g}, 0 = off)" in overview
    exec_page = flat("exec.md")
    assert f"1–{exec_config.MAX_TOKEN} characters" in exec_page
    assert f"`--idle-timeout`, default {common.idle_timeout:g} s" in exec_page
    upload = flat("upload.md")
    up = upload_config.UploadConfig
    assert f"DATA frames of any sizes up to {upload_protocol.DATA_FRAME_LIMIT >> 20} MiB" in upload
    assert f"(default {up.partial_ttl / 3600:g} h)" in upload
    assert f"`--data-timeout` seconds (default {up.data_timeout:g})" in upload
    assert f"(default {up.min_rate // 1024} KiB/s, 0 for none)" in upload
    assert f"would pass {LISTING_BATCH // 1024} KiB" in upload
    assert f"1 to {MAX_NAME_BYTES} bytes of UTF-8" in upload
    assert f"(default {common.idle_timeout:g} s: `idle-timeout`)" in upload


def test_every_state_and_turn_named_in_the_code_is_in_its_table() -> None:
    classic = (REFERENCE / "classic.md").read_text(encoding="utf-8")
    for turn in Turn:
        assert f"| `{turn.name}` |" in classic, turn
    chat = (REFERENCE / "chat.md").read_text(encoding="utf-8")
    for mode in Mode:
        assert f"`{mode.name}`" in chat.split("## Lines", 1)[0], mode
