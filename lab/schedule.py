"""A run's plan: the scenario, its seed, its fleets and its fault schedule, as JSON.

One seed fixes everything a run does (the fleets' workloads, which fault
fires when, the proxy's randomness); the :class:`Plan` is what that seed
became, saved with the run so that ``lab replay`` can run it again without
the scenario's code deciding anything anew.

A :class:`ScheduledFault` is one fault, the trigger that applies it
(:mod:`lab.triggers`) and how long it stays (``duration`` seconds, then it
is reverted). The fleets are FleetSpec JSON objects (``lab.fleet.spec``),
kept here as plain dicts; ``settings`` holds whatever else the runner needs
(timeouts, the invariants to check, the target), JSON-able.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.faults.base import FAULT_KINDS, Fault, fault_from_json
from lab.triggers import Trigger, trigger_from_json

PLAN_VERSION = 1
FAULT_MODULES = ("lab.faults.stream", "lab.faults.peer", "lab.faults.container",
                 "lab.faults.network")
"""Where the fault kinds are registered (imported on demand to read a plan)."""


def _canonical(data: Any) -> Any:
    """``data`` as JSON gives it back (tuples become lists), so a round trip is exact."""
    return json.loads(json.dumps(data))


def load_fault(data: dict[str, Any]) -> Fault:
    """A fault from its JSON, importing the fault families first if its kind is not known yet."""
    if data.get("kind") not in FAULT_KINDS:
        for module in FAULT_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
    if data.get("kind") not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {data.get('kind')!r}; "
                         f"known: {', '.join(sorted(FAULT_KINDS))}")
    return fault_from_json(data)


@dataclass(frozen=True)
class ScheduledFault:
    """One fault of a plan: applied when ``trigger`` fires, reverted ``duration`` s later."""

    fault: Fault
    trigger: Trigger
    duration: float

    def __post_init__(self) -> None:
        if self.duration < 0:
            raise ValueError("a scheduled fault needs duration >= 0")

    def describe(self) -> str:
        return f"{self.fault.label()} {self.trigger.describe()} for {self.duration:g} s"

    def to_json(self) -> dict[str, Any]:
        return {"fault": self.fault.to_json(), "trigger": self.trigger.to_json(),
                "duration": self.duration}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduledFault:
        return cls(load_fault(data["fault"]), trigger_from_json(data["trigger"]),
                   float(data["duration"]))


@dataclass(frozen=True)
class Plan:
    """What one seed made of one scenario: fleets, faults and settings."""

    scenario: str
    seed: int
    fleets: tuple[dict[str, Any], ...] = ()
    faults: tuple[ScheduledFault, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fleets", tuple(_canonical(dict(f)) for f in self.fleets))
        object.__setattr__(self, "faults", tuple(self.faults))
        object.__setattr__(self, "settings", _canonical(dict(self.settings)))
        names = [fleet.get("name") for fleet in self.fleets]
        if len(names) != len(set(names)):
            raise ValueError(f"fleet names must differ: {names}")

    def fleet(self, name: str) -> dict[str, Any]:
        """The spec of the fleet called ``name``."""
        for spec in self.fleets:
            if spec.get("name") == name:
                return spec
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, "scenario": self.scenario, "seed": self.seed,
                "fleets": [dict(f) for f in self.fleets],
                "faults": [f.to_json() for f in self.faults], "settings": dict(self.settings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        version = data.get("version", PLAN_VERSION)
        if version != PLAN_VERSION:
            raise ValueError(f"plan format {version!r} is not {PLAN_VERSION}")
        return cls(scenario=str(data["scenario"]), seed=int(data["seed"]),
                   fleets=tuple(data.get("fleets", ())),
                   faults=tuple(ScheduledFault.from_json(f) for f in data.get("faults", ())),
                   settings=dict(data.get("settings") or {}))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Plan:
        return cls.from_json(json.loads(text))

    def save(self, path: Path) -> None:
        path.write_text(self.dumps() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Plan:
        return cls.loads(path.read_text(encoding="utf-8"))
