"""``lab scenario``: parsing only (``run`` is patched, as uvicorn's CLI tests do)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lab.history import History
from lab.invariants import Verdict
from lab.results import RunRecord, ScenarioResult
from lab.scenarios import cli as scenario_cli
from lab.scenarios.catalog import SCENARIOS


def fake_run(status: str, calls: list[dict[str, Any]]) -> Any:
    def run(**kwargs: Any) -> RunRecord:
        calls.append(kwargs)
        results = tuple(
            ScenarioResult(name=plan.scenario, target=kwargs["target"], seed=plan.seed, plan=plan,
                           history=History(), observations={},
                           verdicts=(Verdict("chat.order", "pass", (), 1),),
                           started=0.0, seconds=1.0,
                           error=None if status == "pass" else "boom")
            for plan in kwargs["plans"])
        return RunRecord(seed=kwargs["seed"], target=kwargs["target"], results=results)
    return run


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scenario_cli, "run", fake_run("pass", made))
    return made


def test_list_names_every_scenario_with_its_family() -> None:
    result = CliRunner().invoke(scenario_cli.cli, ["list"])
    assert result.exit_code == 0
    for scenario in SCENARIOS.values():
        assert f"{scenario.name} " in result.output
        assert scenario.family in result.output


@pytest.mark.parametrize("args", [["run"], ["run", "baseline", "--all"], ["run", "no-such"],
                                  ["run", "--all", "--target", "tutorial"]])
def test_run_refuses_bad_arguments_with_status_2(args: list[str],
                                                 calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(scenario_cli.cli, args)
    assert result.exit_code == 2, result.output
    assert calls == []


def test_run_plans_the_named_scenarios_with_the_seed(calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(scenario_cli.cli, ["run", "chat-sliced-writes", "baseline",
                                                   "--seed", "9", "--target", "twins"])
    assert result.exit_code == 0, result.output
    [call] = calls
    assert [plan.scenario for plan in call["plans"]] == ["chat-sliced-writes", "baseline"]
    assert call["plans"][0] == SCENARIOS["chat-sliced-writes"].plan(9)
    assert call["target"] == "twins" and call["project"] is None


def test_every_run_is_saved_by_default(calls: list[dict[str, Any]]) -> None:
    CliRunner().invoke(scenario_cli.cli, ["run", "--all"])
    out = calls[0]["out"]
    assert out.parent == Path("lab-runs") and out.name.endswith("-netlab-seed1.json")
    assert len(calls[0]["plans"]) == len(SCENARIOS)


def test_a_failed_scenario_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scenario_cli, "run", fake_run("error", []))
    result = CliRunner().invoke(scenario_cli.cli, ["run", "baseline"])
    assert result.exit_code == 1
