"""Environment checks say what is missing; an unreachable engine is a problem, not a crash."""

from __future__ import annotations

import pytest

from lab.environment import docker_engine_problem, require_docker_lab
from lab.errors import EnvironmentProblem


def test_an_unreachable_docker_engine_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/netlab-docker.sock")
    problem = docker_engine_problem()
    assert problem is not None
    assert "not reachable" in problem or "not installed" in problem
    with pytest.raises(EnvironmentProblem, match="Docker is unusable"):
        require_docker_lab()
