"""Recording a netlab server in its container with py-spy while a bench load runs.

``Recorder(directory)`` is what ``lab bench --profile DIR`` hands the
sections (through :class:`lab.bench.context.BenchContext`)::

    async with recorder.record(container, "upload", "netlab-1GiB"):
        await ctx.load(argv)

finds the server's process on this machine (the container's init's host pid,
``State.Pid``, then the Python descendant whose command line holds `` serve``),
runs ``py-spy record --pid PID --rate RATE --format raw --nonblocking``
for the block (Python frames only: py-spy's ``--native`` cannot unwind the
C frames of a process in a container, ``UNW_EBADREG``), and stops it
with SIGINT (py-spy then writes what it sampled). Recordings of the same
figure (the rounds of a section) are merged; :meth:`Recorder.write` writes
``DIR/SECTION-FIGURE.txt`` (collapsed stacks, py-spy's raw format) and
``DIR/SECTION-summary.md`` (:func:`lab.bench.profiles.summary_markdown`).
Around each recording it reads the kernel's account of the server's threads
(:func:`cpu_account`: time on a CPU, time ready but waiting for one).

It needs py-spy (the ``profile`` extra), the Docker engine on this machine
(the container's processes in this /proc) and the right to trace them
(root, or ``CAP_SYS_PTRACE``). :func:`find_pyspy` says whether py-spy is
there; the rest fails as a :class:`lab.errors.BenchError` with py-spy's
message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from lab.bench.profiles import Profile, collapsed, summary_markdown
from lab.errors import BenchError

RATE = 200
MAX_SECONDS = 900  # py-spy's own --duration: a recording nobody stops still ends
STOP_TIMEOUT = 20.0
START_CHECK = 0.3  # seconds: a py-spy that cannot attach has exited by then
SERVER_MARKER = " serve"
INSTALL_HINT = "pip install 'netlab[profile]' (py-spy)"


def find_pyspy() -> str | None:
    """py-spy's path: on PATH, else beside this Python (a virtual environment not activated)."""
    found = shutil.which("py-spy")
    if found is not None:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if os.access(beside, os.X_OK) else None


def _children(pid: int, proc: Path) -> list[int]:
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def is_python_server(cmdline: str, marker: str = SERVER_MARKER) -> bool:
    """A Python program (``python3 .../netlab chat serve``) whose command line holds ``marker``
    (the container's init, ``docker-init -- netlab chat serve``, holds it too)."""
    program = cmdline.split(" ", 1)[0]
    return Path(program).name.startswith("python") and marker in cmdline


def server_pid(init_pid: int, *, marker: str = SERVER_MARKER, proc: Path = Path("/proc")) -> int:
    """The pid of ``init_pid`` or its first descendant (breadth first) that is a Python
    program whose command line holds ``marker``; :class:`BenchError` if none is visible
    in ``proc``."""
    if not (proc / str(init_pid)).is_dir():
        raise BenchError(f"process {init_pid} is not in {proc}: --profile needs the Docker "
                         "engine on this machine")
    queue = [init_pid]
    while queue:
        pid = queue.pop(0)
        if is_python_server(_cmdline(pid, proc), marker):
            return pid
        queue += _children(pid, proc)
    raise BenchError(f"no Python process with {marker.strip()!r} in its command line under "
                     f"pid {init_pid}")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuAccount:
    """The kernel's account of a process at one moment."""

    cpu_seconds: float  # utime + stime of /proc/PID/stat: every thread, ended ones too
    waits: dict[int, int]  # live thread id -> ns it has waited ready for a CPU (schedstat)

    def since(self, earlier: CpuAccount) -> tuple[float, float]:
        """Seconds on a CPU and waiting for one between ``earlier`` and this account (the
        waits of threads that ended in between are lost; new threads count whole)."""
        waited = sum(max(ns - earlier.waits.get(tid, 0), 0) for tid, ns in self.waits.items())
        return max(self.cpu_seconds - earlier.cpu_seconds, 0.0), waited / 1e9


def cpu_account(pid: int, *, proc: Path = Path("/proc")) -> CpuAccount:
    """``pid``'s :class:`CpuAccount` (zero where ``proc`` has nothing to say)."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
        fields = stat.rpartition(")")[2].split()  # after COMM: state is field 3, utime 14
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        cpu = 0.0
    waits = {}
    for task in (proc / str(pid) / "task").glob("*/schedstat"):
        try:  # "run-ns wait-ns timeslices"
            waits[int(task.parent.name)] = int(task.read_text(encoding="ascii").split()[1])
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
            continue
    return CpuAccount(cpu, waits)


def container_server_pid(container: Any) -> int:
    """The host pid of the netlab server in ``container`` (docker SDK object)."""
    container.reload()
    init_pid = int(container.attrs["State"]["Pid"])
    if init_pid <= 0:
        raise BenchError(f"{container.name} is not running")
    return server_pid(init_pid)


class Recorder:
    """py-spy recordings of netlab's servers, by section and figure, written to ``directory``."""

    def __init__(self, directory: Path, *, executable: str, rate: int = RATE) -> None:
        self.directory = directory
        self.executable = executable
        self.rate = rate
        self.profiles: dict[str, dict[str, Profile]] = {}  # section -> figure -> merged

    def argv(self, pid: int, output: Path) -> list[str]:
        return [self.executable, "record", "--pid", str(pid), "--rate", str(self.rate),
                "--format", "raw", "--output", str(output), "--duration", str(MAX_SECONDS),
                "--nonblocking"]

    @asynccontextmanager
    async def record(self, container: Any, section: str, figure: str) -> AsyncIterator[None]:
        """Record the server in ``container`` for the block; merged under ``section``/``figure``."""
        pid = await trio.to_thread.run_sync(container_server_pid, container)
        with tempfile.TemporaryDirectory(prefix="netlab-profile-") as scratch:
            output, log = Path(scratch) / "stacks.txt", Path(scratch) / "py-spy.log"
            with log.open("wb") as log_file:
                process = await trio.lowlevel.open_process(
                    self.argv(pid, output), stdin=subprocess.DEVNULL,
                    stdout=log_file, stderr=subprocess.STDOUT)
            began, before = trio.current_time(), cpu_account(pid)
            try:
                await trio.sleep(START_CHECK)
                if process.poll() is not None:
                    raise BenchError(f"py-spy could not record pid {pid} ({container.name}): "
                                     f"{_tail(log)}")
                yield
            finally:
                seconds = trio.current_time() - began
                cpu, waited = cpu_account(pid).since(before)
                with trio.CancelScope(shield=True):
                    await _stop(process)
            if process.returncode != 0 or not output.exists():
                raise BenchError(f"py-spy recording {container.name} exited "
                                 f"{process.returncode}: {_tail(log)}")
            profile = Profile.parse(output.read_text(encoding="utf-8", errors="replace"),
                                    seconds=seconds, rate=self.rate,
                                    cpu_seconds=cpu, runqueue_seconds=waited)
        figures = self.profiles.setdefault(section, {})
        figures.setdefault(figure, Profile(rate=self.rate)).add(profile)

    def write(self, section: str) -> list[Path]:
        """``SECTION-FIGURE.txt`` for each profile of ``section``, then ``SECTION-summary.md``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        written = []
        profiles = self.profiles.get(section, {})
        for figure, profile in profiles.items():
            path = self.directory / f"{section}-{figure}.txt"
            path.write_text(collapsed(profile.stacks), encoding="utf-8")
            written.append(path)
        summary = self.directory / f"{section}-summary.md"
        summary.write_text(summary_markdown(section, profiles), encoding="utf-8")
        return [*written, summary]


async def _stop(process: trio.Process) -> None:
    """SIGINT (py-spy writes its file and exits), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    with trio.move_on_after(STOP_TIMEOUT):
        await process.wait()
        return
    process.kill()
    await process.wait()


def _tail(log: Path) -> str:
    """py-spy's message, without the Rust backtrace that may follow it."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return text.partition("Stack backtrace:")[0].strip()[-600:] or "(no output)"
