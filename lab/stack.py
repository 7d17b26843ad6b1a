"""A running lab: one compose project, started healthy, always torn down.

``with Stack(...) as stack:`` runs ``docker compose up --detach --wait``
under a unique project name; leaving the block runs ``down --volumes
--remove-orphans`` whatever happened, then removes by label anything of the
project still there (model: testcontainers' ``DockerContainer``). If start-up
fails, the error carries every service's logs and the stack is torn down
before the error propagates.

Resource handling: every container, network and volume of the project carries
compose's project label and netlab's labels (``lab.labels``); cleanup finds
them by label, never by name.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import docker

from lab.compose import Compose
from lab.errors import StackError
from lab.labels import SESSION_ID

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yaml"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
UP_TIMEOUT = 120
DOWN_TIMEOUT = 5


def unique_project(prefix: str = "netlab") -> str:
    """A compose project name no other stack uses (session id + random suffix)."""
    return f"{prefix}-{SESSION_ID}-{uuid.uuid4().hex[:6]}"


@dataclass
class Stack:
    """One compose project of the lab; a context manager."""

    project: str = field(default_factory=unique_project)
    file: Path = COMPOSE_FILE
    env: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    up_timeout: int = UP_TIMEOUT
    services: tuple[str, ...] = ()
    extra_files: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        self.compose = Compose(
            self.project, self.file,
            {"NETLAB_SESSION": SESSION_ID, **self.env}, self.profiles, self.extra_files,
        )
        self.client = docker.from_env()

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Stack:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    def up(self) -> None:
        """Start every service and wait until the healthchecks pass; tear down on failure."""
        try:
            self.compose.run(
                "up", "--detach", "--wait", "--wait-timeout", str(self.up_timeout),
                "--no-build", *self.services, timeout=self.up_timeout + 60,
            )
        except BaseException as exc:
            logs = self.logs()
            self.down()
            if isinstance(exc, StackError):
                raise StackError(f"{exc}\n--- service logs\n{logs}") from exc
            raise

    def down(self) -> None:
        """Stop and remove everything of the project, then check by label."""
        try:
            self.compose.run("down", "--volumes", "--remove-orphans",
                             "--timeout", str(DOWN_TIMEOUT), check=False, timeout=120)
        finally:
            self.remove_leftovers()
            self.client.close()

    def remove_leftovers(self) -> None:
        """Remove by label whatever ``down`` left of this project (e.g. `run` containers)."""
        label = self.project_label()
        for container in self.client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True, v=True)
        for network in self.client.networks.list(filters={"label": label}):
            network.remove()
        for volume in self.client.volumes.list(filters={"label": label}):
            volume.remove(force=True)

    def project_label(self) -> str:
        return f"{PROJECT_LABEL}={self.project}"

    def leftovers(self) -> list[str]:
        """Names of the project's containers, networks and volumes that still exist."""
        label = self.project_label()
        found = [f"container {c.name}"
                 for c in self.client.containers.list(all=True, filters={"label": label})]
        found += [f"network {n.name}" for n in self.client.networks.list(filters={"label": label})]
        found += [f"volume {v.name}" for v in self.client.volumes.list(filters={"label": label})]
        return found

    # -- looking inside ------------------------------------------------------
    def container(self, service: str) -> Any:
        """The (first) container of ``service``, freshly inspected."""
        found = self.client.containers.list(
            all=True, filters={"label": [self.project_label(), f"{SERVICE_LABEL}={service}"]}
        )
        if not found:
            raise StackError(f"no container for service {service!r} in {self.project}")
        return found[0]

    def network(self, name: str) -> Any:
        """The project's network ``name`` (as written in compose.yaml)."""
        found = self.client.networks.list(
            filters={"label": [self.project_label(), f"com.docker.compose.network={name}"]}
        )
        if not found:
            raise StackError(f"no network {name!r} in {self.project}")
        return found[0]

    def logs(self) -> str:
        """Every service's logs (never raises: used while reporting failures)."""
        try:
            return self.compose.logs()
        except Exception as exc:  # a report must not hide the original failure
            return f"(could not read logs: {exc})"

    def exec(self, service: str, *argv: str, check: bool = False, input: str | None = None,
             timeout: float = 120, user: str | None = None) -> subprocess.CompletedProcess[str]:
        """``docker compose exec -T SERVICE ARGV``; the completed process."""
        args = ["exec", "-T"]
        if user is not None:
            args += ["--user", user]
        return self.compose.run(*args, service, *argv, check=check, input=input,
                                timeout=timeout)

    def run(self, service: str, *argv: str, check: bool = False, input: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``docker compose run --rm -T SERVICE ARGV`` (a one-off container)."""
        return self.compose.run("run", "--rm", "-T", "--no-deps", service, *argv,
                                check=check, input=input, timeout=timeout)
