"""The docker tier: one lab stack per session, torn down whatever happens.

Every test here is marked ``docker`` (added at collection). The tier is
mandatory in CI (``CI`` set): a machine that cannot run it fails the run with
a message saying what is missing. Elsewhere a missing Docker engine skips it.
Whenever a test fails, the logs of every service of every running stack are
attached to its report.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.environment import docker_engine_problem, require_docker_lab
from lab.errors import EnvironmentProblem
from lab.stack import Stack
from tests.support.stacks import RUNNING, new_stack

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(pytest.mark.docker)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for stack in RUNNING:
            report.sections.append((f"docker compose logs ({stack.project})", stack.logs()))


def docker_tier_gate() -> None:
    """Fail (CI, or Docker present but the lab not) or skip (no Docker, not CI)."""
    in_ci = bool(os.environ.get("CI"))
    engine_problem = docker_engine_problem()
    if engine_problem and not in_ci:
        pytest.skip(f"docker tier skipped: {engine_problem} (it is mandatory when CI is set)")
    problem = None
    try:
        require_docker_lab()
    except EnvironmentProblem as exc:
        problem = str(exc)
    if problem:
        pytest.fail(f"docker tier cannot run: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def docker_lab() -> None:
    docker_tier_gate()


@pytest.fixture(scope="session")
def stack(docker_lab: None) -> Iterator[Stack]:
    """The lab, with the clients profile, under a unique project name."""
    with new_stack() as running:
        RUNNING.append(running)
        try:
            yield running
        finally:
            RUNNING.remove(running)

