"""scripts/start-lab before it touches Docker: its arguments and its one-line errors.

The docker tier (tests/integration/test_start.py) runs it for real; here a
PATH without docker, or with a stand-in that fails as an unusable engine does,
shows what a learner reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.stack import ROOT

START_LAB = ROOT / "scripts" / "start-lab"
# What the script runs before (and while) it checks Docker.
TOOLS = ("dirname", "mktemp", "grep", "head", "rm")


def run(*args: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = str(path)
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run([bash, str(START_LAB), *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH directory with the basic tools the script uses and no docker."""
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (tmp_path / tool).symlink_to(found)
    return tmp_path


def fake_docker(path: Path, message: str) -> None:
    script = path / "docker"
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    script.chmod(0o755)


def test_help_prints_the_usage_and_succeeds() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: scripts/start-lab [--rebuild]")


def test_an_unknown_argument_is_rejected_with_the_usage() -> None:
    result = run("--detach")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: scripts/start-lab [--rebuild]")
    assert result.stderr.splitlines()[-1] == "start-lab: error: unknown argument --detach"


def test_without_docker_it_says_what_to_install(bare_path: Path) -> None:
    result = run(path=bare_path)
    assert result.returncode == 1
    assert result.stderr.startswith("start-lab: error: Docker is not installed: install Docker")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("engine_says", "reason"), [
    ("permission denied while trying to connect to the Docker daemon socket",
     "permission denied on the Docker socket"),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
     "Is the docker daemon running?", "the Docker engine is not running"),
    ("something else went wrong", "`docker info` failed: something else went wrong"),
])
def test_an_unusable_docker_is_one_line_saying_why(
    bare_path: Path, engine_says: str, reason: str,
) -> None:
    fake_docker(bare_path, engine_says)
    result = run(path=bare_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"start-lab: error: Docker is unusable: {reason}")
    assert len(result.stderr.splitlines()) == 1
