"""A server's memory, read from the host: RSS and open descriptors of its process in its container.

``await server_memory(container, "chat serve")`` runs a few lines of Python
in the container (``docker exec`` through the SDK) that find the process
whose command line holds the marker (not PID 1, the init; the largest if
several) and read ``VmRSS`` from ``/proc/PID/status`` and the number of
entries in ``/proc/PID/fd``. :func:`wait_descriptors` polls that until the
server holds a given number of descriptors (every idle connection accepted).

Error handling: a container where no process matches, or whose probe
fails, raises :class:`lab.errors.BenchError` with the probe's output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from lab.errors import BenchError

# Runs in the server's container (its own user can read its processes' /proc).
PROBE = r"""
import json, os, sys
marker, me, best = sys.argv[1], os.getpid(), None
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) in (1, me):
        continue
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        if marker not in cmdline:
            continue
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        continue
    if best is None or rss > best["rss_kib"]:
        best = {"pid": int(pid), "rss_kib": rss, "fds": fds, "cmdline": cmdline}
print(json.dumps(best))
"""
POLL = 0.5


@dataclass(frozen=True)
class ProcessMemory:
    """One reading: the process, its resident memory (KiB), its open descriptors."""

    pid: int
    rss_kib: int
    fds: int
    cmdline: str


def parse_probe(output: str, marker: str) -> ProcessMemory:
    """The probe's JSON line as a reading; :class:`BenchError` if nothing matched."""
    try:
        found = json.loads(output.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        found = None
    if not isinstance(found, dict):
        raise BenchError(f"no process with {marker!r} in its command line: {output[-300:]}")
    return ProcessMemory(int(found["pid"]), int(found["rss_kib"]), int(found["fds"]),
                         str(found["cmdline"]))


def _probe(container: Any, marker: str) -> ProcessMemory:
    code, output = container.exec_run(["python", "-c", PROBE, marker])
    text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
    if code != 0:
        raise BenchError(f"memory probe in {container.name} exited {code}: {text[-300:]}")
    return parse_probe(text, marker)


async def server_memory(container: Any, marker: str) -> ProcessMemory:
    """The reading of the process of ``container`` whose command line holds ``marker``."""
    return await trio.to_thread.run_sync(partial(_probe, container, marker))


async def wait_descriptors(container: Any, marker: str, fds: int,
                           timeout: float) -> ProcessMemory:
    """Poll until the process holds at least ``fds`` descriptors; the last reading.

    Raises :class:`BenchError` if it still holds fewer after ``timeout`` s.
    """
    reading = await server_memory(container, marker)
    with trio.move_on_after(timeout):
        while reading.fds < fds:
            await trio.sleep(POLL)
            reading = await server_memory(container, marker)
        return reading
    raise BenchError(f"{container.name}: {reading.fds} descriptors open after {timeout:g} s, "
                     f"expected {fds}")


def per_connection_kib(before: ProcessMemory, after: ProcessMemory, connections: int) -> float:
    """(RSS with the connections - RSS before) / connections, in KiB."""
    if connections <= 0:
        raise ValueError("no connections to share the memory among")
    return (after.rss_kib - before.rss_kib) / connections
