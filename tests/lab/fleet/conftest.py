"""The fleet tests' helper: ``await run(spec)`` runs a fleet in-process and returns its history."""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable

import pytest

from lab.fleet.run import run_fleet
from lab.fleet.spec import FleetSpec
from lab.history import History

RunFleet = Callable[[FleetSpec], Awaitable[History]]


async def run_and_parse(spec: FleetSpec) -> History:
    out = io.StringIO()
    await run_fleet(spec, out)
    lines = out.getvalue().splitlines()
    assert all(json.loads(line) for line in lines)  # every line is one JSON op
    return History.from_lines(lines)


@pytest.fixture
def run() -> RunFleet:
    return run_and_parse
