"""FleetSpec: frozen, checked when built, a JSON round trip that refuses what it does not know."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from lab.errors import InvalidSpec
from lab.fleet.spec import ChatSpec, ExecSpec, FleetSpec, UploadSpec

DESIGN_EXAMPLE = """
{"name": "observers", "seed": 7, "deadline": 60.0,
 "chat":   {"clients": 4, "messages": 20, "interval": 0.05, "host": "gateway", "port": 8000,
            "linger": 1.5, "liveness": 5.0},
 "exec":   {"clients": 2, "commands": 4, "host": "gateway", "port": 8001, "token": "netlab-lab",
            "output_bytes": [0, 1000, 300000], "stream_lines": 0, "command_timeout": 20.0},
 "upload": {"clients": 2, "files": 1, "sizes": [100000, 3000000], "host": "gateway", "port": 8002,
            "resume": true, "pace": 0}}
"""


def test_the_documented_example_parses_into_every_kind() -> None:
    spec = FleetSpec.from_json(json.loads(DESIGN_EXAMPLE))
    assert spec.chat == ChatSpec(clients=4, messages=20, interval=0.05, host="gateway",
                                 port=8000, linger=1.5, liveness=5.0)
    assert spec.exec is not None and spec.exec.output_bytes == (0, 1000, 300000)
    assert spec.upload is not None and spec.upload.sizes == (100000, 3000000)
    assert spec.processes()[:2] == ["observers.chat-0", "observers.chat-1"]
    assert len(spec.processes()) == 8


def test_a_spec_survives_a_json_round_trip() -> None:
    spec = FleetSpec(name="f_1", seed=3, deadline=9.5,
                     chat=ChatSpec(clients=2, host="chat", port=1234),
                     exec=ExecSpec(stream_lines=5, ran_dir="/tmp/x"),
                     upload=UploadSpec(sizes=(1, 2, 3), resume=False, pace=4096))
    again = FleetSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec
    assert again.to_json() == spec.to_json()


def test_omitted_kinds_and_fields_take_the_defaults() -> None:
    spec = FleetSpec.from_json({"name": "solo", "upload": {}})
    assert spec == FleetSpec(name="solo", upload=UploadSpec())
    assert spec.specs() == (UploadSpec(),)
    assert spec.kinds() == ("upload",)
    assert "chat" not in spec.to_json()


def test_a_spec_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        FleetSpec(name="a").seed = 1  # type: ignore[misc]


@pytest.mark.parametrize("data, field", [
    ({"name": "a", "colour": 1}, "unknown fields"),
    ({"name": "a", "chat": {"clinets": 2}}, "chat: unknown fields"),
    ({"seed": 1}, "name: missing"),
    ({"name": "has.dot"}, "name"),
    ({"name": "x" * 15}, "name"),
    ({"name": ""}, "name"),
    ({"name": "a", "deadline": 0}, "deadline"),
    ({"name": "a", "deadline": "soon"}, "deadline"),
    ({"name": "a", "seed": True}, "seed"),
    ({"name": "a", "chat": {"clients": -1}}, "chat.clients"),
    ({"name": "a", "chat": {"clients": 1000}}, "chat.clients"),
    ({"name": "a", "chat": {"clients": 2.5}}, "chat.clients"),
    ({"name": "a", "chat": {"liveness": 0}}, "chat.liveness"),
    ({"name": "a", "chat": {"port": 0}}, "chat.port"),
    ({"name": "a", "chat": {"host": ""}}, "chat.host"),
    ({"name": "a", "exec": {"output_bytes": []}}, "exec.output_bytes"),
    ({"name": "a", "exec": {"output_bytes": [1, True]}}, "exec.output_bytes"),
    ({"name": "a", "exec": {"token": ""}}, "exec.token"),
    ({"name": "a", "exec": {"ran_dir": "/tmp; rm -rf /"}}, "exec.ran_dir"),
    ({"name": "a", "upload": {"sizes": [-1]}}, "upload.sizes"),
    ({"name": "a", "upload": {"resume": "yes"}}, "upload.resume"),
    ({"name": "a", "upload": []}, "upload"),
    ([], "spec"),
])
def test_a_bad_spec_is_refused_naming_the_field(data: Any, field: str) -> None:
    with pytest.raises(InvalidSpec, match=field):
        FleetSpec.from_json(data)


def test_an_invalid_spec_is_a_value_error_too() -> None:
    with pytest.raises(ValueError):
        ChatSpec(interval=-1)
