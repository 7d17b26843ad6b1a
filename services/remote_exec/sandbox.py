"""Each command under its own unprivileged uid, and the end of every process of that uid.

A server that may switch uid (root with CAP_SETUID, CAP_SETGID, CAP_CHOWN
and CAP_DAC_READ_SEARCH: the child enters the command's 0700 home before it
drops to the command's uid) lends each command a uid (and the gid of the same number) from
``sandbox_uids``, a range no other program may use, and starts it through
``setpriv`` (:class:`UidPool` says why). The command then cannot
signal the server, read its memory or ``/proc/PID/environ``, or touch
another client's command (another uid). It runs in a fresh home directory
(``/tmp/netlab-exec-UID-XXXX``, mode 0700, owned by its uid), which is also
its working directory and ``$HOME``.

When the command ends, :meth:`Lease.kill_all` forks a helper that drops to
the command's uid and calls ``kill(-1, SIGKILL)``: the kernel sends SIGKILL
to every process that uid may signal — every process of that uid and
nothing else, ``setsid`` and double forks included — and a fork racing the
kill fails, as the forking parent already has SIGKILL pending. The helper
repeats until no live process of the uid is left, removes the home
directory (as its owner: the server needs no DAC_OVERRIDE), and exits. The
helper is not dumpable (it inherits the server's flag and changed uid), so
the command cannot ptrace it; if the command kills it first, the server
starts another. :meth:`Lease.reap` then reaps the uid's zombies that were
re-parented to the server (a subreaper), and only when ``/proc`` shows no
process of that uid at all is the uid returned to the pool. The usual end
needs no helper: when ``/proc`` proves that nothing of the uid is alive
(only zombies, our children, and no pid handed out that it did not look at:
:func:`all_processes_of`) and the home is empty, the server reaps the
zombies and removes the empty home itself.

Where the server cannot switch uid (a learner running ``netlab exec serve``
as a normal user), :func:`unavailable_reason` says why, the server logs
``sandbox=off reason=...`` and commands run as the server's uid with the
process-group kill of :mod:`services.remote_exec.process`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import signal
import stat
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import trio

PR_SET_DUMPABLE = 4
CAP_CHOWN, CAP_DAC_READ_SEARCH, CAP_SETGID, CAP_SETUID = 0, 2, 6, 7
NEEDED_CAPS = {CAP_CHOWN: "CAP_CHOWN", CAP_DAC_READ_SEARCH: "CAP_DAC_READ_SEARCH",
               CAP_SETGID: "CAP_SETGID", CAP_SETUID: "CAP_SETUID"}
KILL_TIMEOUT = 5.0  # SIGKILLed processes die at once; this only bounds a wedged kernel
POLL_INTERVAL = 0.005
HELPER_ATTEMPTS = 20  # helpers that failed, or rounds without a free pid
HOME_PREFIX = "netlab-exec-"
STATUS_HEAD = 4096  # bytes of /proc/PID/status read: State, PPid and Uid are near its start
SETTLE_ROUNDS, SETTLE_PIDS = 8, 256  # how long all_processes_of follows new pids
SYSTEM_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"  # where setpriv is looked for (not $PATH)


def parse_uid_range(text: str) -> range | None:
    """``20000-20999`` → range(20000, 21000); ``off`` → None. ValueError if malformed."""
    text = text.strip()
    if text.lower() in ("off", "none", ""):
        return None
    first, sep, last = text.partition("-")
    if not sep or not first.strip().isdigit() or not last.strip().isdigit():
        raise ValueError(f"sandbox_uids {text!r} is not a range like 20000-20999, or off")
    low, high = int(first), int(last)
    if low < 1 or high < low or high >= 2**31 - 1:
        raise ValueError(f"sandbox_uids {text!r}: need 1 <= first <= last")
    return range(low, high + 1)


def searchable_path(path: str) -> str:
    """``$PATH`` minus the folders an unprivileged uid cannot search (e.g. under /root).

    A shell meeting one reports ``Permission denied`` instead of ``not found``.
    """
    def open_to_all(folder: str) -> bool:
        current = os.path.abspath(folder)
        while True:
            try:
                if not os.stat(current).st_mode & stat.S_IXOTH:
                    return False
            except OSError:
                return False
            if current == "/":
                return True
            current = os.path.dirname(current)

    return os.pathsep.join(f for f in path.split(os.pathsep) if f and open_to_all(f))


def set_not_dumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0): no ptrace, no core, /proc/self/* owned by root. True if set."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _effective_caps() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def unavailable_reason(uids: range | None) -> str | None:
    """Why this process cannot run commands under other uids; None if it can."""
    if uids is None:
        return "disabled (sandbox_uids=off)"
    if not hasattr(os, "setresuid") or not os.path.isdir("/proc/self"):
        return "needs Linux"
    if os.geteuid() != 0:
        return f"not root (uid {os.geteuid()}): commands run as the server's uid"
    try:
        caps = _effective_caps()
    except OSError as exc:
        return f"cannot read capabilities: {exc.strerror}"
    missing = [name for bit, name in NEEDED_CAPS.items() if not caps & (1 << bit)]
    if missing:
        return "missing capabilities " + ",".join(missing)
    return None


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    state: str

    @property
    def dead(self) -> bool:
        """A zombie (or dying): it runs nothing, it only waits to be reaped."""
        return self.state in ("Z", "X")


def process_of(uid: int, pid: int) -> ProcInfo | None:
    """Process (or thread) ``pid`` if its real uid is ``uid``; None if not, or gone."""
    try:  # one open, one read, one close: no buffered file object per process
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            status = os.read(fd, STATUS_HEAD)
        finally:
            os.close(fd)
    except OSError:
        return None  # gone meanwhile
    state = ppid = real = None
    for line in status.split(b"\n"):
        if line.startswith(b"State:"):
            state = line.split()[1].decode()
        elif line.startswith(b"PPid:"):
            ppid = int(line.split()[1])
        elif line.startswith(b"Uid:"):
            real = int(line.split()[1])
            break  # State and PPid come before Uid
    if real == uid and state is not None and ppid is not None:
        return ProcInfo(pid, ppid, state)
    return None


def processes_of(uid: int) -> Iterator[ProcInfo]:
    """Every process whose real uid is ``uid`` (zombies too), from ``/proc``."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := process_of(uid, int(entry))) is not None:
            yield found


def last_pid() -> int:
    """The pid most recently given to a new process (or thread) of our pid namespace.

    Pids are handed out in increasing order (wrapping only past ``pid_max``),
    so an unchanged value means no process was created in between.
    """
    with open("/proc/loadavg", "rb") as f:
        return int(f.read().split()[-1])


def all_processes_of(uid: int) -> list[ProcInfo] | None:
    """Every process of ``uid``, or None where ``/proc`` cannot prove that it saw them all.

    A listing of ``/proc`` is no snapshot: a process of the uid that forks
    and exits while it is read can move its live child past it. So the pids
    handed out since the listing began are looked at too, again until no new
    one was handed out: a live process of the uid either existed when the
    listing began (and was listed, and seen alive) or was created since (and
    has one of those pids). None if too many pids were handed out meanwhile,
    or the pids wrapped around.
    """
    checked = last_pid()
    found = {p.pid: p for p in processes_of(uid)}
    for _ in range(SETTLE_ROUNDS):
        newest = last_pid()
        if newest == checked:
            return list(found.values())
        if not 0 < newest - checked <= SETTLE_PIDS:
            return None
        for pid in range(checked + 1, newest + 1):
            if (info := process_of(uid, pid)) is not None:
                found[pid] = info
        checked = newest
    return None


def _kill_uid_then_exit(uid: int, gid: int, home: str | None) -> None:  # pragma: no cover
    """In the forked helper: become ``uid``, SIGKILL all its processes, remove ``home``; exit."""
    code = 1
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        me = os.getpid()
        deadline = time.monotonic() + KILL_TIMEOUT
        while True:
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)  # every process of this uid but the caller
            alive = [p for p in processes_of(uid) if p.pid != me and not p.dead]
            if not alive:
                break
            if time.monotonic() > deadline:
                os._exit(2)
            time.sleep(POLL_INTERVAL)
        if home is not None:
            # What the command made unremovable (chmod 0) stays; /tmp's tmpfs goes with the lab.
            shutil.rmtree(home, ignore_errors=True)
        code = 0
    finally:
        os._exit(code)


class Lease:
    """One uid lent to one command, with its home directory."""

    def __init__(self, pool: UidPool, uid: int) -> None:
        self.pool = pool
        self.uid = uid
        self.gid = uid
        self.home: str | None = None
        self._released = False
        self._zombies: list[int] | None = None  # all that was left, from kill_all's fast path

    def make_home(self) -> str:
        """A fresh 0700 directory owned by the command's uid: its cwd and ``$HOME``."""
        home = tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{self.uid}-", dir=self.pool.tmp_dir)
        self.home = home
        os.chown(home, self.uid, self.gid)
        return home

    async def kill_all(self, spare: int | None = None) -> None:
        """SIGKILL every process of the uid and remove the home directory (a forked helper).

        ``spare``: our child whose zombie its owner reaps (the command's
        shell: its ``Popen`` must read its exit status), never reaped here.

        The usual case costs no helper: when ``/proc`` shows only zombies of
        the uid, all our children, and the command left its home empty, the
        server removes the empty directory itself (it owns ``/tmp``), if
        ``/proc`` proves that it showed every process of the uid
        (:func:`all_processes_of`).
        """
        me = os.getpid()
        left = all_processes_of(self.uid)
        if left is not None and all(p.ppid == me and p.dead for p in left) and self._rmdir_home():
            self._zombies = [p.pid for p in left]
            return
        self._zombies = None
        for _ in range(HELPER_ATTEMPTS):
            try:
                pid = os.fork()
            except BlockingIOError:
                # The uid's own processes hold every pid the container may have (a fork
                # storm under pids_limit): kill them by pid, reap what is ours, try again.
                self._kill_by_pid(spare)
                await trio.sleep(POLL_INTERVAL)
                continue
            if pid == 0:  # pragma: no cover - the child
                _kill_uid_then_exit(self.uid, self.gid, self.home)
            status = await _wait_child(pid)
            if os.waitstatus_to_exitcode(status) == 0:
                self.home = None
                return
        raise OSError(f"cannot end the processes of uid {self.uid}")

    def _kill_by_pid(self, spare: int | None) -> None:
        """SIGKILL each live process of the uid by pid (CAP_KILL); reap our zombies but ``spare``.

        The fallback when no helper can be forked: unlike ``kill(-1)`` as the
        uid it can race a fork, so :meth:`kill_all` repeats until none is left.
        """
        me = os.getpid()
        for proc in processes_of(self.uid):
            if proc.dead:
                if proc.ppid == me and proc.pid != spare:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(proc.pid, os.WNOHANG)
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)

    def _rmdir_home(self) -> bool:
        """Remove the home directory if it is empty (no process of the uid may be alive)."""
        if self.home is not None:
            try:
                os.rmdir(self.home)
            except OSError:
                return False
            self.home = None
        return True

    async def reap(self, reaped: int | None = None) -> None:
        """Reap the uid's zombies that are our children; wait until no process of it is left.

        ``reaped``: the shell's pid, already reaped by its ``Popen``.
        """
        me = os.getpid()
        if self._zombies is not None:  # nothing but our zombies was left
            for pid in self._zombies:
                if pid != reaped:
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 - a zombie
            self._zombies = None
            return
        with trio.move_on_after(KILL_TIMEOUT):
            while True:
                # A zombie another process must reap (a server killed before it could) runs
                # nothing; only the living and our own zombies keep the uid from the pool.
                left = [p for p in processes_of(self.uid)
                        if p.ppid == me or not p.dead]
                if not left:
                    return
                for proc in left:
                    if proc.ppid == me and proc.dead:
                        with contextlib.suppress(ChildProcessError):
                            os.waitpid(proc.pid, os.WNOHANG)  # noqa: ASYNC222 - a zombie
                if any(not p.dead for p in left):
                    await self.kill_all()  # something was started as this uid meanwhile
                await trio.sleep(POLL_INTERVAL)
        raise OSError(f"processes of uid {self.uid} are still there")

    def release(self) -> None:
        """Give the uid back (only once nothing of it runs: see :meth:`reap`)."""
        if not self._released:
            self._released = True
            self.pool.give_back(self.uid)


async def _wait_child(pid: int) -> int:
    """Wait for our child ``pid`` to exit, without blocking the loop; its wait status."""
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(pid)
    try:
        with trio.CancelScope(shield=True):
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222
                if done:
                    return status
                if pidfd is not None:
                    await trio.lowlevel.wait_readable(pidfd)
                else:
                    await trio.sleep(POLL_INTERVAL)
        raise AssertionError("unreachable")  # pragma: no cover - for mypy: shielded loop
    finally:
        if pidfd is not None:
            trio.lowlevel.notify_closing(pidfd)
            os.close(pidfd)


def find_setpriv() -> str | None:
    """util-linux's ``setpriv``, if installed: what switches a command to its uid (see below)."""
    return shutil.which("setpriv", path=SYSTEM_PATH)


class UidPool:
    """The uids commands may run as; one command per uid at a time, least recently used first.

    ``setpriv`` (found by default) is how a command gets its uid: the server
    starts ``setpriv --reuid U --regid U --clear-groups -- COMMAND`` with
    vfork, as root, and setpriv switches before it execs the command. Without
    it CPython must fork the server to switch in the child (no setuid in a
    vfork child), which copies the server's page tables: in a container,
    about 2 ms of the server's CPU per command, against about 0.2 ms.
    """

    def __init__(self, uids: range, tmp_dir: str | None = None, *,
                 setpriv: str | Literal["find"] | None = "find") -> None:
        # Starting at a random uid of the range makes a clash with a second server given
        # the same range (a mistake) unlikely to hit at once.
        start = random.randrange(len(uids)) if uids else 0
        self._free = deque(uids[start:])
        self._free.extend(uids[:start])
        self.size = len(uids)
        self.tmp_dir = tmp_dir
        self.setpriv = find_setpriv() if setpriv == "find" else setpriv

    @property
    def free(self) -> int:
        return len(self._free)

    def lease(self) -> Lease:
        """A uid for one command; OSError if every uid is in use (more than max_concurrent)."""
        if not self._free:
            raise OSError("no sandbox uid is free")
        return Lease(self, self._free.popleft())

    def give_back(self, uid: int) -> None:
        self._free.append(uid)
