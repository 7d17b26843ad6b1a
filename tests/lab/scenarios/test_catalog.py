"""The scenario catalogue: seeded plans, every fault family against every server."""

from __future__ import annotations

import pytest

from lab.fleet.spec import FleetSpec
from lab.invariants import INVARIANTS
from lab.scenarios.catalog import SCENARIOS
from lab.schedule import Plan
from lab.twins import BREAKS

NAMES = sorted(SCENARIOS)


def test_there_are_at_least_twelve_scenarios() -> None:
    assert len(SCENARIOS) >= 12


def test_every_fault_family_meets_every_server() -> None:
    met = set()
    for scenario in SCENARIOS.values():
        plan = scenario.plan(1)
        for scheduled in plan.faults:
            met.update((scheduled.fault.family, service)
                       for service in plan.settings["services"])
    for family in ("stream", "peer", "container", "network"):
        for service in ("chat", "exec", "upload"):
            assert (family, service) in met, f"no {family} fault against {service}"


@pytest.mark.parametrize("name", NAMES)
def test_a_seed_always_gives_the_same_plan(name: str) -> None:
    assert SCENARIOS[name].plan(7) == SCENARIOS[name].plan(7)


@pytest.mark.parametrize("name", NAMES)
def test_a_plan_survives_json(name: str) -> None:
    plan = SCENARIOS[name].plan(3)
    assert Plan.loads(plan.dumps()) == plan


@pytest.mark.parametrize("name", NAMES)
def test_a_plan_names_only_known_invariants_and_valid_fleets(name: str) -> None:
    plan = SCENARIOS[name].plan(5)
    assert set(plan.settings["invariants"]) <= set(INVARIANTS)
    for spec in plan.fleets:
        assert FleetSpec.from_json(spec).to_json() == spec


def test_different_seeds_give_different_plans_somewhere() -> None:
    assert any(s.plan(1) != s.plan(2) for s in SCENARIOS.values())


def test_each_twins_invariant_is_checked_by_some_scenario() -> None:
    checked = {name for s in SCENARIOS.values() for name in s.plan(1).settings["invariants"]}
    for service, invariants in BREAKS.items():
        assert set(invariants) & checked, f"no scenario checks what the {service} twin breaks"


def test_cutoff_and_resume_are_checked_only_where_clients_are_cut_or_resume() -> None:
    for scenario in SCENARIOS.values():
        invariants = scenario.plan(1).settings["invariants"]
        if "chat.cutoff" in invariants or "upload.resume" in invariants:
            assert scenario.plan(1).faults, scenario.name
