"""scripts/start-lab: from no image and no project to a healthy lab and its banner, then reuse.

Each test runs the command as a learner would (``CI=true``, stdin at EOF) in
a project of its own with fresh host ports. The image is one only these tests
use (``netlab-start-<session>:latest`` unless ``NETLAB_START_IMAGE`` names
another): it is absent at the start, which is all the command looks at, and
the other docker tests keep their ``netlab:latest`` throughout. The Debian
base and the wheelhouse are kept, so the offline build takes about a minute.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import docker
import pytest

from lab.labels import SESSION_ID
from lab.stack import ROOT, Stack, unique_project
from tests.support.stacks import RUNNING, lab_ports

START_LAB = ROOT / "scripts" / "start-lab"
SHARED_IMAGE = "netlab:latest"
LOCAL_BASE = "netlab-base:bookworm"
SERVICES = ("chat", "exec", "exec-noroute", "upload", "gateway")
BUILD_BOUND = 600.0
# A generous bound for "starts in seconds" (measured: about 2 s).
REUSE_BOUND = 60.0

pytestmark = pytest.mark.timeout(2 * BUILD_BOUND)


@dataclass(frozen=True)
class Started:
    """One run of scripts/start-lab: exit status, everything it printed, how long it took."""

    returncode: int
    output: str
    seconds: float


def start_lab(env: Mapping[str, str], *args: str) -> Started:
    started = time.monotonic()
    result = subprocess.run(
        [str(START_LAB), *args], cwd=ROOT, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=BUILD_BOUND,
        check=False,
    )
    return Started(result.returncode, result.stdout, time.monotonic() - started)


def image_id(client: docker.DockerClient, name: str) -> str | None:
    try:
        return str(client.images.get(name).id)
    except docker.errors.ImageNotFound:
        return None


@pytest.fixture
def client(docker_lab: None) -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fresh_image(client: docker.DockerClient) -> Iterator[str]:
    """An image name that does not exist yet; removed afterwards unless it is netlab:latest."""
    name = os.environ.get("NETLAB_START_IMAGE", f"netlab-start-{SESSION_ID}:latest")
    if image_id(client, name) is not None:
        client.images.remove(name, force=True)
    yield name
    # netlab:latest is what the command builds for every other test: leave it.
    if name != SHARED_IMAGE and image_id(client, name) is not None:
        client.images.remove(name, force=True)


@pytest.fixture
def project(docker_lab: None) -> Iterator[Stack]:
    """A compose project nobody has started; whatever the test starts in it is torn down."""
    stack = Stack(project=unique_project("netlab-start"), env=lab_ports())
    assert stack.leftovers() == []
    RUNNING.append(stack)
    try:
        yield stack
    finally:
        RUNNING.remove(stack)
        stack.down()
    assert stack.leftovers() == []


def command_env(stack: Stack, image: str, **extra: str) -> dict[str, str]:
    return {"CI": "true", "COMPOSE_PROJECT_NAME": stack.project, "NETLAB_IMAGE": image,
            "NETLAB_SESSION": SESSION_ID, **stack.env, **extra}


def assert_healthy(stack: Stack) -> None:
    for service in SERVICES:
        state = stack.container(service).attrs["State"]
        assert state["Status"] == "running", (service, state)
        assert state["Health"]["Status"] == "healthy", (service, state["Health"])


def assert_banner(stack: Stack, output: str) -> None:
    assert "netlab lab is up. From this machine:" in output, output
    for service in ("chat", "exec", "upload"):
        port = stack.env[f"NETLAB_{service.upper()}_PORT"]
        assert f"{service:<7} 127.0.0.1:{port}" in output, output
    assert f"netlab chat client --host 127.0.0.1 --port {stack.env['NETLAB_CHAT_PORT']}" in output
    assert "docker compose logs chat|exec|upload" in output, output
    assert "docker compose down" in output.splitlines()[-1], output


def test_start_lab_builds_offline_starts_a_healthy_lab_and_prints_the_banner_then_reuses_it(
    client: docker.DockerClient, fresh_image: str, project: Stack,
) -> None:
    env = command_env(project, fresh_image)
    first = start_lab(env)
    assert first.returncode == 0, first.output
    assert f"building {fresh_image}" in first.output, first.output
    assert image_id(client, fresh_image) is not None
    assert_healthy(project)
    assert_banner(project, first.output)
    built = image_id(client, fresh_image)

    second = start_lab(env)
    assert second.returncode == 0, second.output
    assert f"reusing image {fresh_image}" in second.output, second.output
    assert "building" not in second.output, second.output
    assert second.seconds < REUSE_BOUND, f"the second run took {second.seconds:.1f} s"
    assert image_id(client, fresh_image) == built
    assert_healthy(project)
    assert_banner(project, second.output)


def test_start_lab_builds_with_compose_when_the_base_image_is_already_here(
    client: docker.DockerClient, fresh_image: str, project: Stack,
) -> None:
    # A locally tagged base stands in for python:3.11-slim being present.
    if image_id(client, LOCAL_BASE) is None:
        pytest.skip(f"{LOCAL_BASE} is missing (scripts/build-images makes it)")
    base = f"netlab-start-base-{SESSION_ID}:latest"
    client.images.get(LOCAL_BASE).tag(base)
    try:
        started = start_lab(command_env(project, fresh_image, NETLAB_BASE_IMAGE=base))
    finally:
        client.images.remove(base)
    assert started.returncode == 0, started.output
    assert f"building {fresh_image} from {base} (present on this machine" in started.output
    assert "build-images" not in started.output, started.output
    assert_healthy(project)
    assert_banner(project, started.output)

