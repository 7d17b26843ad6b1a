"""Plans and scheduled faults survive a JSON round trip exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.faults.base import Target
from lab.schedule import Plan, ScheduledFault, load_fault
from lab.triggers import AtProgress, WhileStreaming
from tests.lab.invariants.samples import CUT, FLEET, Cut, cut_kind, plan


@pytest.fixture(autouse=True)
def _cut_kind() -> Iterator[None]:
    with cut_kind():
        yield


def test_a_plan_round_trips_through_json() -> None:
    original = plan()
    again = Plan.loads(original.dumps())
    assert again == original
    assert again.faults[0].fault == CUT and isinstance(again.faults[0].fault, Cut)
    assert again.to_json()["version"] == 1


def test_a_plan_is_saved_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan(seed=11).save(path)
    assert Plan.load(path) == plan(seed=11)


def test_fleets_and_settings_are_kept_as_json_gives_them_back() -> None:
    fleet = {**FLEET, "upload": {"clients": 1, "sizes": (100, 200)}}
    made = Plan("s", 1, (fleet,), settings={"invariants": ("chat.order",)})
    assert made.fleet("obs")["upload"]["sizes"] == [100, 200]
    assert made.settings == {"invariants": ["chat.order"]}
    assert Plan.from_json(made.to_json()) == made


def test_fleet_names_must_differ() -> None:
    with pytest.raises(ValueError, match="fleet names"):
        Plan("s", 1, (FLEET, FLEET))


def test_a_scheduled_fault_round_trips_and_describes_itself() -> None:
    scheduled = ScheduledFault(Cut(target=Target(fleet="obs")), AtProgress(0.5), 2.0)
    assert ScheduledFault.from_json(scheduled.to_json()) == scheduled
    assert scheduled.describe() == "test-cut(fleet=obs) at 50% of an upload for 2 s"
    with pytest.raises(ValueError):
        ScheduledFault(CUT, WhileStreaming(), -1)


def test_an_unknown_fault_kind_is_refused_after_looking_everywhere() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'no-such-fault'"):
        load_fault({"kind": "no-such-fault"})


def test_another_plan_format_is_refused() -> None:
    data = plan().to_json()
    data["version"] = 99
    with pytest.raises(ValueError, match="plan format 99"):
        Plan.from_json(data)
