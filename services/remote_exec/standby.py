"""A sandboxed shell started ahead of its command: the uid switch off the round trip.

Switching a command to its uid (:mod:`services.remote_exec.sandbox`) costs
an exec of ``setpriv`` before the shell's own: its loader, its locale and
its user lookups open some twenty files, which in a container whose root
file system is a FUSE mount (Docker's fuse-overlayfs) takes milliseconds,
most of a short command's round trip. A :class:`Standby` does that ahead of
time: it leases the next uid, makes its home and starts ``setpriv ... --
/bin/sh -c WAITER SHELL`` there (:func:`~services.remote_exec.process.start_group`,
as any command), whose shell then waits reading its stdin, a pipe from the
server. When a command comes, :meth:`Standby.take` writes it into that pipe
(:func:`encode_command`); the waiter reads it, opens ``/dev/null`` as its
stdin (read-write, as a command started then would have it) and execs
``SHELL -c COMMAND``. The command gets the argv, environment, directory,
session, pid, uid and open files it would have had if started then; what
is left on the round trip is one exec of the shell, as without a sandbox.
The standby's ``setpriv`` runs with ``LC_ALL=C`` (unless ``LC_ALL`` is set
already), which spares it loading the ``C.UTF-8`` locale, some fifteen
files; the waiter unsets it before the exec. That about pays for the
waiter's own exec: a standby costs the container no more than a command
started as it comes.

A command takes the standby when it has no stdin, fits in
:data:`MAX_COMMAND` bytes (the waiter's ``read`` takes a byte per system
call) and holds no NUL byte; any other starts as before. There is one
standby at a time. :meth:`Standby.run`, a background task of the server,
starts the next one as soon as one is taken (while that command runs), if
the pool still keeps a uid for every command admission may let in.

Resource handling: until it is taken, a standby's process group, pipes and
lease belong to :meth:`Standby.run`, which ends them as any command's group
ends (SIGTERM, SIGKILL, every process of its uid, its home removed) and
releases the lease: when shutdown begins, when the task is cancelled, and
when one is found dead. Once taken they belong to the command's
:func:`~services.remote_exec.process.spawn_group`. A standby whose server
dies reads EOF and exits.

Error handling: a standby that cannot start is logged (once, until one
starts again) and tried again when the next command comes; that command
starts as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import trio

from services.remote_exec.policy import Admission
from services.remote_exec.process import ProcessGroup, check_executable, start_group
from services.remote_exec.sandbox import UidPool
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import log_event

WAITER_SHELL = "/bin/sh"
MAX_COMMAND = 512  # bytes; reading them costs the waiter about 1 us each
# Reads the line count, then that many lines, exactly (IFS= keeps blanks, -r
# backslashes); its variables are not exported, so the command never sees them.
WAITER = r"""netlab_n= netlab_c= netlab_l=
IFS= read -r netlab_n || exit 125
while [ "$netlab_n" -gt 0 ]; do
    IFS= read -r netlab_l || exit 125
    netlab_c="$netlab_c$netlab_l
"
    netlab_n=$((netlab_n - 1))
done
exec <>/dev/null
exec "$0" -c "${netlab_c%?}"
"""
WAITER_VARIABLES = ("netlab_n", "netlab_c", "netlab_l")
C_LOCALE = "LC_ALL"  # set to C for the standby's setpriv, unset by the waiter (see above)


def encode_command(command: bytes) -> bytes:
    """What the waiter reads: the command's line count, the command, a newline."""
    return b"%d\n%s\n" % (command.count(b"\n") + 1, command)


def fits(command: str | bytes) -> bytes | None:
    """The command's bytes if a standby can take it, else None."""
    data = os.fsencode(command)
    if len(data) > MAX_COMMAND or b"\x00" in data:
        return None
    return data


class Standby:
    """The next command's process, started ahead under the next uid (see the module docstring)."""

    def __init__(
        self,
        *,
        pool: UidPool,
        admission: Admission,
        shell: str,
        env: Mapping[str, str] | None,
        kill_grace: float,
        pipe_size: int,
        logger: logging.Logger,
    ) -> None:
        self.pool = pool
        self.admission = admission
        self.shell = shell
        self.env = env
        self.kill_grace = kill_grace
        self.pipe_size = pipe_size
        self.logger = logger
        self._ready: ProcessGroup | None = None
        self._to_end: list[ProcessGroup] = []  # found dead, or left at shutdown
        self._wanted = trio.Event()  # take() happened: start the next one
        self._closed = False
        self._failing = False  # the last start failed (logged once)
        names = os.environ if env is None else env
        # An exported variable of the waiter's would reach the command changed.
        self._usable = not any(name in names for name in WAITER_VARIABLES)
        self._waiter_env = dict(names)
        self._waiter = WAITER
        if C_LOCALE not in names:
            self._waiter_env[C_LOCALE] = "C"
            self._waiter = f"unset {C_LOCALE}\n{WAITER}"

    @property
    def held(self) -> int:
        """Uids the standby holds out of the pool now (0 or 1)."""
        return 1 if self._ready is not None else 0

    @property
    def pid(self) -> int | None:
        """The waiting process's pid, the next command's; None if none waits."""
        return self._ready.pid if self._ready is not None else None

    @property
    def uid(self) -> int | None:
        """The uid the waiting process runs as (or is switching to); None if none waits."""
        ready = self._ready
        return ready.lease.uid if ready is not None and ready.lease is not None else None

    def take(self, command: str | bytes) -> ProcessGroup | None:
        """The standby's group, handed ``command``; None if there is none or it cannot take it.

        Ask only for a command without stdin. The group then belongs to the
        caller (to :func:`~services.remote_exec.process.spawn_group`).
        """
        self._wanted.set()  # whatever happens here, the task looks again
        ready = self._ready
        data = fits(command)
        if ready is None or data is None:
            return None
        self._ready = None
        pipe, ready.stdin = ready.stdin, None
        assert pipe is not None
        try:
            # An empty pipe takes it whole at once: no more than PIPE_BUF bytes.
            os.write(pipe.fileno(), encode_command(data))
        except OSError:  # the waiter is gone (EPIPE)
            self._to_end.append(ready)
            return None
        finally:
            pipe.close()
        return ready

    async def run(self, lifecycle: Lifecycle) -> None:
        """Keep one standby ready until shutdown begins (a background task of the server)."""
        if not self._usable:
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._close_at_drain, lifecycle)
            try:
                while not self._closed:
                    await self._tend()
                    await self._wanted.wait()
                    self._wanted = trio.Event()
            finally:
                self._closed = True
                with trio.CancelScope(shield=True):
                    if self._ready is not None:
                        self._to_end.append(self._ready)
                        self._ready = None
                    await self._end_left()
                nursery.cancel_scope.cancel()

    async def _close_at_drain(self, lifecycle: Lifecycle) -> None:
        await lifecycle.draining.wait()
        self._closed = True
        self._wanted.set()

    async def _tend(self) -> None:
        await self._end_left()
        if self._ready is None and not self._closed and self._uid_to_spare():
            self._ready = await self._start()

    def _uid_to_spare(self) -> bool:
        """A uid is left for every command admission may still let in, besides the standby's."""
        admissible = self.admission.max_concurrent - self.admission.running
        return self.pool.free > admissible

    async def _start(self) -> ProcessGroup | None:
        try:
            check_executable(self.shell, self.env)  # else its commands' spawn-failed is lost
            group = await start_group(
                [WAITER_SHELL, "-c", self._waiter, self.shell], stdin=True, env=self._waiter_env,
                kill_grace=self.kill_grace, pipe_size=self.pipe_size, lease=self.pool.lease(),
            )
        except OSError as exc:
            if not self._failing:
                log_event(self.logger, "standby-failed", level=logging.WARNING, error=exc,
                          note="commands start as they come until one starts")
            self._failing = True
            return None
        if self._failing:
            log_event(self.logger, "standby-started", note="commands take standbys again")
        self._failing = False
        return group

    async def _end_left(self) -> None:
        """End the groups no command took (see the module docstring)."""
        while self._to_end:
            group = self._to_end.pop()
            if group.stdin is not None:
                group.stdin.close()
                group.stdin = None
            try:
                await group.close()
            except OSError as exc:  # a process of its uid could not be ended: uid kept out
                log_event(self.logger, "standby-end-failed", level=logging.ERROR, error=exc)
                continue
            if group.lease is not None:
                group.lease.release()
