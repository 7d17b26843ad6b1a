"""What the servers' containers hold after a run: the observations the invariants read.

:func:`observe` runs one short Python program inside each server container
(``docker exec``, as the container's user) and returns::

    {"exec": {"leftovers": [cmdline, ...], "ran": {marker: count}},
     "upload": {"files": {name: {"size": int, "sha256": hex}}}}

- exec ``leftovers``: the command lines of the processes still running
  whose command line holds ``netlab-op-`` (a fleet command's marker);
- exec ``ran``: how many times each marker ran, from the files
  ``/tmp/netlab-ran.<marker>.<pid>`` each fleet command touches first;
- upload ``files``: each regular file directly in the upload directory
  (``NETLAB_ROOT`` of the container, ``/data/uploads`` by default) with
  its size and SHA-256. Uploads in progress live in the hidden
  ``.netlab-partial`` directory (``services/upload/storage.py``) and are
  not listed; neither is any other hidden name.

``since`` (wall-clock seconds) keeps only the ``ran`` files and uploaded
files modified at or after it, so that one stack can serve several runs.
A service that cannot be observed (stopped, paused, no such container) is
left out and its error put under ``"errors"``; checkers then say "unknown".

Resource handling: each ``exec_run`` is a blocking call run in a worker
thread, bounded by :data:`OBSERVE_TIMEOUT`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import docker.errors
import trio

from lab.errors import LabError

OBSERVE_TIMEOUT = 60.0
UPLOAD_ROOT = "/data/uploads"
# The marker is split in two so that this program's own command line never holds it.
EXEC_PROGRAM = r"""
import json, os, sys
since = float(sys.argv[1])
marker = "netlab-" + "op-"
me = os.getpid()
leftovers = []
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == me:
        continue
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
    if marker in cmdline:
        leftovers.append(cmdline)
ran = {}
for name in os.listdir("/tmp"):
    if not name.startswith("netlab-ran."):
        continue
    try:
        if os.stat(os.path.join("/tmp", name)).st_mtime < since:
            continue
    except OSError:
        continue
    key = name[len("netlab-ran."):].rpartition(".")[0]
    ran[key] = ran.get(key, 0) + 1
print(json.dumps({"leftovers": sorted(leftovers), "ran": ran}))
"""
UPLOAD_PROGRAM = r"""
import hashlib, json, os, stat, sys
root, since = sys.argv[1], float(sys.argv[2])
files = {}
with os.scandir(root) as entries:
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime < since:
                continue
            digest = hashlib.sha256()
            with open(entry.path, "rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
        except OSError:
            continue
        files[entry.name] = {"size": info.st_size, "sha256": digest.hexdigest()}
print(json.dumps({"files": files}))
"""


class Containers(Protocol):
    """Where the servers' containers are (a ``LabContext``)."""

    def container(self, service: str) -> Any: ...


class ObservationError(LabError):
    """A server container's observation program failed."""


def _env(container: Any, name: str, default: str) -> str:
    for item in container.attrs.get("Config", {}).get("Env") or []:
        key, _, value = item.partition("=")
        if key == name:
            return str(value)
    return default


def _run(place: Containers, service: str, program: str, *args: str) -> dict[str, Any]:
    container = place.container(service)
    argv = ["python", "-c", program, *args]
    if service == "upload":
        argv.insert(3, _env(container, "NETLAB_ROOT", UPLOAD_ROOT))
    code, output = container.exec_run(argv, demux=True)
    stdout, stderr = output if isinstance(output, tuple) else (output, b"")
    if code != 0:
        raise ObservationError(f"{service}: status {code}: "
                               f"{(stderr or b'').decode(errors='replace').strip()[-500:]}")
    value: dict[str, Any] = json.loads(stdout or b"{}")
    return value


async def observe(place: Containers, *, since: float = 0.0,
                  services: tuple[str, ...] = ("exec", "upload")) -> dict[str, Any]:
    """The observations of ``services`` (see the module's docstring)."""
    programs = {"exec": EXEC_PROGRAM, "upload": UPLOAD_PROGRAM}
    found: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for service in services:
        try:
            with trio.fail_after(OBSERVE_TIMEOUT):
                found[service] = await trio.to_thread.run_sync(
                    _run, place, service, programs[service], repr(since),
                    abandon_on_cancel=True)
        except (LabError, docker.errors.APIError, ValueError, trio.TooSlowError) as exc:
            errors[service] = f"{type(exc).__name__}: {exc}"
    if errors:
        found["errors"] = errors
    return found
