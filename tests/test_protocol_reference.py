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
from collections.abc import Callable
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
from services.remote_exec import codec as exec_codec
from services.upload import codec as upload_codec
from services.wire.errors import ErrorCode, RemoteProtocolError

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
