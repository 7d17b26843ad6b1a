"""Run one command under its limits, streaming its output as it is produced.

The tutorial's server waits for the child before reading its pipes and
hangs once the output passes the pipe buffer. Here stdout and stderr are
read from the start, concurrently, in large reads, each chunk handed to an
async ``sink`` (a netlab client's frames, or a classic client's buffer);
a sink that waits (a slow client) slows the reads, so nothing piles up.

Theory of operation: a :class:`~services.remote_exec.stopper.Stopper`
records the first reason the command must end — the shell exited, the
wall-time limit, the output cap, the client's CANCEL or departure, the
server's shutdown. The running task itself waits for the shell's exit (its
pidfd), under the time limit, inside the stopper's cancel scope: every other
reason cancels that wait, so only the output pumps run as tasks of their
own. Then the group is ended (:mod:`services.remote_exec.process`): nothing
more if the shell exited on its own, else SIGTERM, ``kill_grace``, SIGKILL;
what is still in the pipes is read out (at most ``drain_timeout``); the
shell is reaped. A command that exits by itself is answered without a
further task switch in between.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable

import trio

from services.remote_exec.context import ServerContext
from services.remote_exec.outcome import Limits, Outcome, Stop
from services.remote_exec.process import ProcessGroup, signal_name, spawn_group
from services.remote_exec.stdin import StdinBuffer
from services.remote_exec.stopper import Stopper
from services.runtime.errors import RuntimeFailure
from services.runtime.logs import log_event


class Stream(enum.Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


PIPE_FULL = 64 * 1024  # a read this large means the pipe (64 KiB by default) had filled

Sink = Callable[[Stream, bytes], Awaitable[None]]


class CommandRun:
    """One command: spawn it, pump its output to ``sink``, end it, report the outcome."""

    def __init__(
        self,
        ctx: ServerContext,
        command: str | bytes,
        *,
        limits: Limits,
        sink: Sink,
        stopper: Stopper | None = None,
        stdin: StdinBuffer | None = None,
    ) -> None:
        self.ctx = ctx
        self.command = command
        self.limits = limits
        self.sink = sink
        self.stopper = stopper or Stopper()
        self.stdin = stdin
        self.counts = {Stream.STDOUT: 0, Stream.STDERR: 0}
        self._pumps_left = 2
        self.pid: int | None = None
        self._pumps_done = trio.Event()

    async def run(self, on_started: Callable[[int], Awaitable[None]]) -> Outcome:
        """Run to the end; ``on_started(pid)`` is awaited once the group exists.

        Raises ``OSError`` if the shell cannot be started.
        """
        started = trio.current_time()
        try:
            return await self._run(on_started, started)
        except BaseException:
            if self.pid is not None:
                # Cancelled from outside (the connection's writer failed, the
                # grace period ran out): the group is killed by now; count it.
                self.ctx.count("commands_killed")
                self.ctx.count("ended_aborted")
                log_event(self.ctx.logger, "exit", stop="aborted", pid=self.pid,
                          elapsed=f"{trio.current_time() - started:.3f}")
            raise

    async def _run(self, on_started: Callable[[int], Awaitable[None]], started: float) -> Outcome:
        config = self.ctx.config
        standby = self.ctx.standby
        ready = standby.take(self.command) if standby is not None and self.stdin is None else None
        if ready is not None:
            self.ctx.count("standby_taken")
        async with spawn_group(
            [config.shell, "-c", self.command], stdin=self.stdin is not None, env=self.ctx.env,
            kill_grace=config.kill_grace, pipe_size=config.pipe_size,
            lease=None if ready is not None else self.ctx.lease(), started=ready,
        ) as group:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, group, Stream.STDOUT)
                nursery.start_soon(self._pump, group, Stream.STDERR)
                if self.stdin is not None:
                    nursery.start_soon(self._feed_stdin, group, self.stdin)
                self.pid = group.pid
                with self.ctx.running.running(self.stopper):
                    await on_started(group.pid)
                    stop = await self._wait_for_end(group, started + self.limits.timeout)
                kill_grace, drain = self.ctx.end_timings(shutdown=stop is Stop.SHUTDOWN)
                if stop is not Stop.EXITED:
                    await group.terminate(kill_grace)
                await group.kill_all()  # background jobs the shell left behind
                if not self._pumps_done.is_set():
                    with trio.move_on_after(drain):
                        await self._pumps_done.wait()
                nursery.cancel_scope.cancel()
            returncode = await group.reap()
        return Outcome(
            pid=group.pid, stop=stop,
            status=returncode if returncode >= 0 else None,
            signal=signal_name(-returncode) if returncode < 0 else None,
            elapsed=trio.current_time() - started,
            stdout_bytes=self.counts[Stream.STDOUT], stderr_bytes=self.counts[Stream.STDERR],
        )

    async def _wait_for_end(self, group: ProcessGroup, deadline: float) -> Stop:
        """The first reason to end: the shell's exit, the deadline, or the stopper's."""
        with trio.CancelScope(deadline=deadline) as scope, self.stopper.cancels(scope):
            await group.wait_exited()
            self.stopper.stop(Stop.EXITED)
        if self.stopper.reason is None:  # the deadline cancelled the wait
            self.stopper.stop(Stop.TIMEOUT)
        assert self.stopper.reason is not None
        return self.stopper.reason

    async def _pump(self, group: ProcessGroup, which: Stream) -> None:
        pipe = group.stdout if which is Stream.STDOUT else group.stderr
        assert pipe is not None
        read_size = self.ctx.config.read_size
        forwarding = True
        enlarged = False
        try:
            while chunk := await pipe.receive_some(read_size):
                if not enlarged and len(chunk) >= PIPE_FULL:
                    group.enlarge_pipe(pipe)  # a big writer: let it get ahead further
                    enlarged = True
                if not forwarding:
                    continue  # keep reading so no writer blocks while it is being killed
                room = self.limits.output_limit - self.counts[Stream.STDOUT] - self.counts[
                    Stream.STDERR]
                data = chunk if isinstance(chunk, bytes) else bytes(chunk)
                over = len(data) > room
                if over:
                    data = data[:room]
                if data:
                    self.counts[which] += len(data)
                    try:
                        await self.sink(which, data)
                    except RuntimeFailure:
                        self.stopper.stop(Stop.DISCONNECTED)
                        forwarding = False
                if over:
                    self.stopper.stop(Stop.OUTPUT_LIMIT)
                    forwarding = False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._pumps_left -= 1
            if self._pumps_left == 0:
                self._pumps_done.set()

    async def _feed_stdin(self, group: ProcessGroup, stdin: StdinBuffer) -> None:
        """Copy STDIN data into the command's stdin; close it at STDIN_EOF."""
        pipe = group.stdin
        assert pipe is not None
        try:
            while (data := await stdin.get()) is not None:
                try:
                    await pipe.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break  # the command closed its stdin: what follows is dropped
        finally:
            stdin.finish()
            await trio.aclose_forcefully(pipe)
