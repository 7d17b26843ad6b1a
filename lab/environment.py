"""Can this machine run the lab? Each check says what is missing and how to get it.

The docker tier calls :func:`require_docker_lab` once: in CI a problem fails
the run with the message; elsewhere a missing Docker engine skips the tier.
"""

from __future__ import annotations

import shutil
import subprocess

from lab.errors import EnvironmentProblem

DEFAULT_IMAGE = "netlab:latest"
CHECK_TIMEOUT = 30.0


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=CHECK_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


def docker_engine_problem() -> str | None:
    """Why the Docker engine is unusable, or None."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        info = _run("docker", "info", "--format", "{{.ServerVersion}}")
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0 or not info.stdout.strip():
        return f"the Docker engine is not reachable: {info.stderr.strip() or info.stdout.strip()}"
    return None


def compose_version() -> str | None:
    """The Compose v2 plugin's version, or None when `docker compose` is unusable."""
    result = _run("docker", "compose", "version", "--short")
    version = result.stdout.strip().removeprefix("v")
    if result.returncode != 0 or not version or not version.split(".")[0].isdigit():
        return None
    return version if int(version.split(".")[0]) >= 2 else None


def require_docker_lab(image: str = DEFAULT_IMAGE) -> None:
    """Raise :class:`EnvironmentProblem` unless Docker, Compose v2 and ``image`` are there."""
    problem = docker_engine_problem()
    if problem:
        raise EnvironmentProblem(f"Docker is unusable ({problem}); install and start Docker")
    if compose_version() is None:
        raise EnvironmentProblem(
            "Docker Compose v2 is missing (`docker compose version` fails): run scripts/provision"
        )
    if _run("docker", "image", "inspect", image).returncode != 0:
        raise EnvironmentProblem(f"image {image} is missing: run scripts/build-images")
