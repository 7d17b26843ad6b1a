"""Where the checks run: in a sealed container (the default) or in this process (``--local``).

:func:`grade` gives the same :class:`~lab.exercises.model.CheckResult`
list both ways. By default the driver (``lab check-driver``) runs in one
container of the netlab image that can reach nothing: ``network_mode
none`` (loopback only), a read-only root file system, ``/tmp`` a small
tmpfs, memory and process limits, every capability dropped but the four
the driver needs to start the learner's program as ``nobody``
(``SETUID``, ``SETGID``), to hand it a work directory (``CHOWN``), to read
the learner's file and what the program wrote whatever their modes
(``DAC_READ_SEARCH``) and to kill it (``KILL``). The learner's program is
mounted read-only at ``/learner/NAME``, the repository's ``exercises/``
folder (the reference programs) at ``/exercises``. ``--local`` runs the
driver here: no Docker, no isolation, free ports. With ``Request.capture``
the container joins the network namespace of a ``lab capture`` sidecar
(:mod:`lab.capture.sidecar`; loopback only, like ``none``) that records
its loopback traffic to that pcap file.

Resource handling: the container carries netlab's labels (a unique
``org.netlab.run``) and is removed in ``finally``, whether creating,
starting or reading it failed or the run was interrupted.

Error handling: a driver that fails (not a check: the driver itself, e.g.
an image without ``lab check-driver``) raises
:class:`~lab.errors.GradingError` with the end of its output; a missing
image or Docker engine raises :class:`~lab.errors.EnvironmentProblem`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from lab.environment import DEFAULT_IMAGE
from lab.errors import EnvironmentProblem, GradingError
from lab.exercises.context import EXERCISES_ENV, exercises_root
from lab.exercises.driver import run_checks
from lab.exercises.model import CheckResult, Exercise, Role
from lab.labels import labels

LEARNER_DIR = "/learner"
EXERCISES_MOUNT = "/exercises"
CAPABILITIES = ["SETUID", "SETGID", "CHOWN", "DAC_READ_SEARCH", "KILL"]
MEMORY = "512m"
PIDS = 256
TMPFS = {"/tmp": "rw,nosuid,nodev,size=128m,mode=1777"}
SLACK = 60.0  # seconds beyond the checks' own timeouts before the container is given up
OUTPUT_KEEP = 4000

OnResult = Callable[[CheckResult], None]


@dataclass(frozen=True)
class Request:
    """One grading run: which checks, on which program, how."""

    exercise: Exercise
    program: Path
    role: Role
    seed: int
    only: tuple[str, ...] = ()
    shown_path: str | None = None
    capture: Path | None = None  # a pcap file of the grading container's loopback traffic

    def checks(self) -> int:
        return len([c for c in self.exercise.checks_of(self.role)
                    if not self.only or c.name in self.only])

    def time_limit(self) -> float:
        chosen = [c for c in self.exercise.checks_of(self.role)
                  if not self.only or c.name in self.only]
        return sum(check.timeout for check in chosen) + SLACK


def driver_command(request: Request, path_inside: str) -> list[str]:
    """The ``lab check-driver`` command line the container runs."""
    command = ["lab", "check-driver", request.exercise.id, path_inside,
               "--role", request.role, "--seed", str(request.seed),
               "--shown-path", request.shown_path or str(request.program)]
    for name in request.only:
        command += ["--only", name]
    return command


def container_options(request: Request, *, image: str, run_id: str,
                      network_mode: str = "none") -> dict[str, Any]:
    """The docker SDK's ``containers.create`` keywords for one grading run (``network_mode``:
    ``container:ID`` of a capture sidecar with no network either, for ``--capture``)."""
    program = request.program.resolve()
    inside = f"{LEARNER_DIR}/{program.name}"
    volumes = {str(program): {"bind": inside, "mode": "ro"}}
    root = exercises_root()
    environment = {}
    if root.is_dir():
        volumes[str(root.resolve())] = {"bind": EXERCISES_MOUNT, "mode": "ro"}
        environment[EXERCISES_ENV] = EXERCISES_MOUNT
    return {
        "image": image,
        "entrypoint": [],
        "command": driver_command(request, inside),
        "labels": labels(role="check", run=run_id),
        "network_mode": network_mode,
        "user": "0:0",
        "cap_drop": ["ALL"],
        "cap_add": list(CAPABILITIES),
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": dict(TMPFS),
        "mem_limit": MEMORY,
        "pids_limit": PIDS,
        "volumes": volumes,
        "environment": environment,
        "working_dir": "/tmp",
        "detach": True,
    }


def _parse(line: str) -> CheckResult | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return CheckResult.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError):
        return None


def _client() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise EnvironmentProblem(
            f"Docker is unusable ({error}); install and start it, or grade with --local") from None
    return client


def _start(client: Any, request: Request, image: str, run_id: str,
           network_mode: str = "none") -> Any:
    import docker.errors

    try:
        container = client.containers.create(
            **container_options(request, image=image, run_id=run_id, network_mode=network_mode))
    except docker.errors.ImageNotFound:
        raise EnvironmentProblem(
            f"image {image} is missing: run scripts/start-lab (or scripts/build-images), "
            "or grade with --local") from None
    container.start()
    return container


def _follow(container: Any, deliver: OnResult) -> tuple[list[CheckResult], list[str]]:
    """The driver's results as they come, and its other output lines, until it exits."""
    results: list[CheckResult] = []
    other: list[str] = []
    pending = ""
    for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
        pending += chunk.decode("utf-8", errors="replace")
        *lines, pending = pending.split("\n")
        for line in lines:
            result = _parse(line)
            if result is None:
                other.append(line)
            else:
                results.append(result)
                deliver(result)
    if pending:
        other.append(pending)
    return results, other


async def _in_container(request: Request, image: str, deliver: OnResult) -> list[CheckResult]:
    client = await trio.to_thread.run_sync(_client)
    if request.capture is None:
        return await _graded(client, request, image, deliver, "none")
    from lab.capture.sidecar import MAX_SECONDS, CaptureSpec, Host, capturing

    spec = CaptureSpec(seconds=min(request.time_limit(), MAX_SECONDS), interface="lo",
                       filter="tcp")
    async with capturing(Host(client, image), None, spec, request.capture) as capture:
        try:
            return await _graded(client, request, image, deliver,
                                 f"container:{capture.program.container.id}")
        finally:
            with trio.CancelScope(shield=True):
                await capture.stop()


async def _graded(client: Any, request: Request, image: str, deliver: OnResult,
                  network_mode: str) -> list[CheckResult]:
    run_id = uuid.uuid4().hex[:12]

    def from_thread(result: CheckResult) -> None:
        trio.from_thread.run_sync(deliver, result)

    try:
        with trio.fail_after(request.time_limit()):
            container = await trio.to_thread.run_sync(
                _start, client, request, image, run_id, network_mode)
            # Abandoned on cancellation: removing the container below ends its log stream.
            results, other = await trio.to_thread.run_sync(
                _follow, container, from_thread, abandon_on_cancel=True)
            state = await trio.to_thread.run_sync(container.wait)
    except trio.TooSlowError:
        raise GradingError(
            f"the grading container ran over {request.time_limit():g}s and was removed") from None
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_remove, client, run_id)
    status = state.get("StatusCode", -1)
    if status != 0 or len(results) != request.checks():
        tail = "\n".join(other)[-OUTPUT_KEEP:]
        raise GradingError(
            f"the grading container exited with status {status} after {len(results)} of "
            f"{request.checks()} checks; its output:\n{tail}")
    return results


def _remove(client: Any, run_id: str) -> None:
    import docker.errors

    found = client.containers.list(all=True, filters={"label": f"org.netlab.run={run_id}"})
    for container in found:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


async def grade(
    request: Request,
    *,
    local: bool = False,
    image: str = DEFAULT_IMAGE,
    on_result: OnResult | None = None,
) -> list[CheckResult]:
    """Run the request's checks: in a container, or in this process with ``local``."""
    deliver: OnResult = on_result or (lambda result: None)
    if local:
        return await run_checks(
            request.exercise, request.program, request.role, request.seed,
            request.only or None, local=True, shown_path=request.shown_path,
            on_result=deliver)

    return await _in_container(request, image, deliver)
