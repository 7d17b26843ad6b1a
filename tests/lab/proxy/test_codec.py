"""Toxics from JSON: what the control API accepts and what it refuses."""

from __future__ import annotations

import pytest

from lab.errors import InvalidToxic
from lab.proxy.codec import toxic_from_json, toxic_to_json
from lab.proxy.toxics import Latency, Slicer


def test_a_toxic_round_trips_through_json() -> None:
    toxic = Slicer(name="s", stream="upstream", average_size=10, size_variation=3, delay=5)
    assert toxic_from_json(toxic_to_json(toxic)) == toxic


def test_the_name_defaults_to_type_and_stream() -> None:
    assert toxic_from_json({"type": "latency", "attributes": {"latency": 10}}) == Latency(
        name="latency_downstream", latency=10)


@pytest.mark.parametrize("bad", [
    {"type": "slicer", "attributes": {"average_size": 2.5}},  # bytes are whole
    {"type": "limit_data", "attributes": {"bytes": 1.5}},
    {"type": "latency", "attributes": {"latency": True}},
    {"type": "latency", "attributes": {"latency": "10"}},
    {"type": "latency", "attributes": {"speed": 10}},
    {"type": "warp"},
    {"type": "latency", "colour": "red"},
    {"type": "latency", "connection": "one"},
    [],
])
def test_invalid_toxics_are_refused(bad: object) -> None:
    with pytest.raises(InvalidToxic):
        toxic_from_json(bad)
