"""A command running as its own session and process group, and killing that group whole.

Resource handling: :func:`spawn_group` starts ``argv`` with
``start_new_session=True``, so the shell, its children and the background
jobs they start (``sleep 100 &``) share one process group, whose id is the
shell's pid. Whatever way the ``async with`` body ends — normally, by an
error, or cancelled — the exit path (shielded, bounded in time) sends
SIGTERM to the group if the shell still runs, waits up to ``kill_grace``
for it, sends SIGKILL to the whole group, reaps the shell and closes the
pipes. No process of the group outlives the block.

Two details keep that promise exact:

* The final SIGKILL goes to the group *before* the shell is reaped. Until
  then the shell's pid cannot be reused, so ``killpg`` cannot hit a
  stranger's group. Exit is therefore watched with a pidfd (or
  ``waitid(WNOWAIT)``), which does not reap.
* Background children are orphaned when the shell dies. Unless something
  reaps them they stay zombies (some container inits never reap, and a
  server running as PID 1 is their init). :func:`become_subreaper` makes
  orphans of our groups our children, and the exit path reaps them with
  ``waitpid(-pgid)``.

What the group kill cannot do: a process that leaves the group on purpose
(``setsid``, a double-forking daemon) is out of reach of ``killpg``. With a
sandbox :class:`~services.remote_exec.sandbox.Lease` the command runs under
its own uid, and :meth:`ProcessGroup.kill_all` ends every process of that
uid, wherever it went (see :mod:`services.remote_exec.sandbox`); without
one (a server that cannot switch uid) such a process outlives its command.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import trio

from services.remote_exec.sandbox import Lease

POLL_INTERVAL = 0.01
REAP_TIMEOUT = 5.0  # SIGKILLed processes die at once; this only bounds a wedged kernel
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants our children (Linux), so we can reap them. True if it worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9; ``SIG<n>`` for a number the platform does not name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIG{signum}"


class ProcessGroup:
    """A running command: its pipes, its pid (= process group id) and how to end it."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        stdin: trio.lowlevel.FdStream | None,
        stdout: trio.lowlevel.FdStream,
        stderr: trio.lowlevel.FdStream,
        kill_grace: float,
        pipe_size: int = 0,
        lease: Lease | None = None,
    ) -> None:
        self.popen = popen
        self.lease = lease
        self._uid_dead = False  # every process of the lease's uid is gone
        self.pipe_size = pipe_size
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.pid = popen.pid
        self.kill_grace = kill_grace
        self.returncode: int | None = None
        self.signalled: str | None = None  # the last signal netlab sent the group
        self._exited = trio.Event()
        self._pidfd: int | None = None
        with contextlib.suppress(OSError, AttributeError):
            self._pidfd = os.pidfd_open(self.pid)

    @property
    def exited(self) -> bool:
        """The shell has exited (it may not be reaped yet)."""
        if not self._exited.is_set() and self._poll_exit():
            self._exited.set()
        return self._exited.is_set()

    def _poll_exit(self) -> bool:
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:  # already reaped
            return True

    async def wait_exited(self) -> None:
        """Wait until the shell exits, without reaping it. One caller at a time."""
        if self._pidfd is not None:
            await trio.lowlevel.wait_readable(self._pidfd)
        else:
            # No pidfd (old kernel): the kernel offers no event, so poll.
            while not self._poll_exit():  # noqa: ASYNC110
                await trio.sleep(POLL_INTERVAL)
        self._exited.set()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to every process of the group (no-op once it is gone)."""
        if self.returncode is not None:
            return  # reaped: the pgid may belong to someone else by now
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)
            self.signalled = signal_name(signum)

    async def terminate(self, kill_grace: float | None = None) -> None:
        """SIGTERM the group; SIGKILL it when the shell has exited or ``kill_grace`` passed."""
        if not self.exited:
            self.signal_group(signal.SIGTERM)
            with trio.move_on_after(self.kill_grace if kill_grace is None else kill_grace):
                while not self.exited:  # noqa: ASYNC110 - kernel state, polled
                    await trio.sleep(POLL_INTERVAL)
        self.signal_group(signal.SIGKILL)

    async def kill_all(self) -> None:
        """SIGKILL the group and, in a sandbox, every process of the command's uid."""
        self.signal_group(signal.SIGKILL)
        if self.lease is not None and not self._uid_dead:
            await self.lease.kill_all(spare=self.pid)  # its zombie is ours to reap (status)
            # Only this server starts processes as that uid, so none can come back.
            self._uid_dead = True

    async def reap(self) -> int:
        """SIGKILL what is left of the group, reap the shell and any orphans; the returncode."""
        if self.returncode is None:
            await self.kill_all()
            if not self._exited.is_set():
                with trio.move_on_after(REAP_TIMEOUT):
                    await self.wait_exited()
            self.returncode = self.popen.poll()  # exited: reaps without blocking
            self._close_pidfd()
            if self.lease is not None:
                await self.lease.reap(reaped=self.pid)
            else:
                await self._reap_orphans()
        if self.returncode is None:  # pragma: no cover - the kernel did not deliver SIGKILL
            raise OSError(errno.ETIMEDOUT, f"process {self.pid} did not die")
        return self.returncode

    async def _reap_orphans(self) -> None:
        """Reap background children of the group that were re-parented to us (subreaper)."""
        deadline = trio.current_time() + REAP_TIMEOUT
        while True:
            try:
                # WNOHANG never blocks; orphans are not trio.Process objects.
                pid, _ = os.waitpid(-self.pid, os.WNOHANG)  # noqa: ASYNC222
            except ChildProcessError:
                return  # none of our children is left in the group (the usual case: no wait)
            if pid == 0:
                if trio.current_time() > deadline:
                    return
                await trio.sleep(POLL_INTERVAL)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            trio.lowlevel.notify_closing(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def enlarge_pipe(self, stream: trio.lowlevel.FdStream) -> None:
        """Grow a pipe that filled up to ``pipe_size``: bigger reads, fewer frames.

        Done on demand, not at spawn: growing a pipe costs time a command
        with little output should not pay.
        """
        if self.pipe_size and hasattr(fcntl, "F_SETPIPE_SZ"):
            with contextlib.suppress(OSError, ValueError):
                fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, self.pipe_size)

    async def close(self) -> None:
        """End the group (see the module docstring) and close the pipes."""
        await self.terminate()
        await self.reap()
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()  # at once: a task still waiting on it is woken with an error


def start_process(argv: Sequence[str | bytes], *, stdin: bool, env: Mapping[str, str] | None,
                  lease: Lease | None = None,
                  ) -> tuple[subprocess.Popen[bytes], int | None, int, int]:
    """Start the process; return it and our ends of its pipes (stdin's only if asked).

    Called on the Trio thread, not in a worker: CPython starts it with
    vfork, a fraction of a millisecond, less than a thread hop costs. With a
    ``lease`` the child enters the lease's home directory (as root) and runs
    as the lease's uid and gid with no supplementary groups: ``setpriv``
    switches and execs the command (still a vfork for the server), or, where
    there is no setpriv, CPython forks the server to switch in the child (a
    setuid must not run in a vfork child), which costs the server's event
    loop one to two milliseconds. A setpriv that cannot switch runs nothing:
    the command ends with status 1 and setpriv's message on stderr.
    """
    home: str | None = None
    if lease is not None:
        home = lease.make_home()
        base = os.environ if env is None else env
        env = {**base, "HOME": home, "PWD": home}
    ours: list[int] = []
    theirs: list[int] = []
    try:
        if stdin:
            child_in, parent_in = os.pipe2(os.O_CLOEXEC)
            ours.append(parent_in)
            theirs.append(child_in)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        ours.append(out_r)
        theirs.append(out_w)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        ours.append(err_r)
        theirs.append(err_w)
        forked = lease is not None and lease.pool.setpriv is None  # CPython switches the uid
        if lease is not None and lease.pool.setpriv is not None:
            check_executable(argv[0], env)
            argv = [lease.pool.setpriv, f"--reuid={lease.uid}", f"--regid={lease.gid}",
                    "--clear-groups", "--", *argv]
        popen = subprocess.Popen(
            list(argv), stdin=child_in if stdin else subprocess.DEVNULL, stdout=out_w,
            stderr=err_w, start_new_session=True, env=env, cwd=home,
            user=lease.uid if forked and lease else None,
            group=lease.gid if forked and lease else None,
            extra_groups=[] if forked else None,
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return popen, (parent_in if stdin else None), out_r, err_r


_executables: set[tuple[str, str | None]] = set()  # (program, PATH) found executable


def check_executable(program: str | bytes, env: Mapping[str, str] | None) -> None:
    """Raise the ``OSError`` exec would give for a missing program (setpriv would exit 127).

    A program found once is not looked up again: the shell is the same for
    every command, and each lookup costs two metadata operations on the root
    file system, slow where that is a FUSE mount (fuse-overlayfs: about 0.5 ms).
    """
    name = os.fsdecode(program)
    search = (os.environ if env is None else env).get("PATH") if os.sep not in name else None
    if (name, search) in _executables:
        return
    if os.sep in name:
        found = os.access(name, os.X_OK) and not os.path.isdir(name)
    else:
        found = shutil.which(name, path=search) is not None
    if not found:
        code = errno.EACCES if os.path.exists(name) else errno.ENOENT
        raise OSError(code, os.strerror(code), name)
    _executables.add((name, search))


@asynccontextmanager
async def spawn_group(
    argv: Sequence[str | bytes],
    *,
    stdin: bool,
    env: Mapping[str, str] | None,
    kill_grace: float,
    pipe_size: int,
    lease: Lease | None = None,
    started: ProcessGroup | None = None,
) -> AsyncIterator[ProcessGroup]:
    """Run ``argv`` in a new session with piped stdout/stderr (and stdin if asked).

    With a sandbox ``lease``, as its uid in its home directory. Raises
    ``OSError`` if it cannot start. ``started``: a group already running
    ``argv`` (a standby handed its command, see
    :mod:`services.remote_exec.standby`), used instead of starting one. See
    the module docstring for how the group ends; its lease is released once
    the block is over.
    """
    # Not a full checkpoint: a scheduling round here would only delay the spawn.
    await trio.lowlevel.checkpoint_if_cancelled()
    group = started
    if group is None:
        group = await start_group(argv, stdin=stdin, env=env, kill_grace=kill_grace,
                                  pipe_size=pipe_size, lease=lease)
    try:
        yield group
    finally:
        with trio.CancelScope(shield=True):
            await group.close()
        if group.lease is not None:
            group.lease.release()  # not reached if a process of its uid could not be ended


async def start_group(
    argv: Sequence[str | bytes],
    *,
    stdin: bool,
    env: Mapping[str, str] | None,
    kill_grace: float,
    pipe_size: int,
    lease: Lease | None = None,
) -> ProcessGroup:
    """Start ``argv``'s group (see :func:`spawn_group`); the caller must close it.

    If it cannot start, the lease's home is removed and the lease released
    before the ``OSError`` propagates.
    """
    try:
        popen, in_fd, out_fd, err_fd = start_process(argv, stdin=stdin, env=env, lease=lease)
    except BaseException:
        if lease is not None:
            with trio.CancelScope(shield=True):
                await lease.kill_all()  # removes the home directory
            lease.release()
        raise
    return ProcessGroup(
        popen,
        stdin=trio.lowlevel.FdStream(in_fd) if in_fd is not None else None,
        stdout=trio.lowlevel.FdStream(out_fd),
        stderr=trio.lowlevel.FdStream(err_fd),
        kill_grace=kill_grace,
        pipe_size=pipe_size,
        lease=lease,
    )
