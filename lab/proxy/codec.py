"""Toxics and proxies to and from JSON, in the shape of toxiproxy's API.

A toxic: ``{"name", "type", "stream", "toxicity", "connection", "attributes"}``;
unknown types, fields or attributes, and values out of range, raise
:class:`lab.errors.InvalidToxic`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lab.errors import InvalidToxic
from lab.proxy.toxics import KINDS, Toxic

_FIELDS = {"name", "type", "stream", "toxicity", "connection", "attributes"}


def toxic_to_json(toxic: Toxic) -> dict[str, Any]:
    return {"name": toxic.name, "type": toxic.kind, "stream": toxic.stream,
            "toxicity": toxic.toxicity, "connection": toxic.connection,
            "attributes": toxic.attributes()}


def toxic_from_json(data: object) -> Toxic:
    """A toxic from its JSON description; ``name`` defaults to ``{type}_{stream}``."""
    if not isinstance(data, dict):
        raise InvalidToxic("a toxic is a JSON object")
    unknown = set(data) - _FIELDS
    if unknown:
        raise InvalidToxic(f"unknown field(s): {', '.join(sorted(unknown))}")
    kind = data.get("type")
    if kind not in KINDS:
        raise InvalidToxic(f"type must be one of {', '.join(sorted(KINDS))}")
    cls = KINDS[kind]
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise InvalidToxic("attributes is a JSON object")
    known = {f.name for f in dataclasses.fields(cls)} - {"name", "stream", "toxicity",
                                                        "connection"}
    if set(attributes) - known:
        raise InvalidToxic(f"{kind} has no attribute(s) "
                           f"{', '.join(sorted(set(attributes) - known))}")
    whole = {f.name for f in dataclasses.fields(cls) if f.type in (int, "int")}
    for key, value in attributes.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidToxic(f"attribute {key} must be a number")
        if key in whole and not isinstance(value, int):
            raise InvalidToxic(f"attribute {key} must be a whole number (bytes)")
    stream = data.get("stream", "downstream")
    connection = data.get("connection")
    toxicity = data.get("toxicity", 1.0)
    if connection is not None and (not isinstance(connection, int)
                                   or isinstance(connection, bool)):
        raise InvalidToxic("connection must be a connection id or null")
    if not isinstance(toxicity, int | float) or isinstance(toxicity, bool):
        raise InvalidToxic("toxicity must be a number")
    name = data.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise InvalidToxic("name must be a string")
    try:
        return cls(name=name, stream=stream, toxicity=float(toxicity), connection=connection,
                   **attributes)
    except (TypeError, ValueError) as exc:
        raise InvalidToxic(f"{kind}: {exc}") from None
