"""The learner's program as a process a check drives: stdin lines in, output watched.

:func:`start_program` runs ``python3 PATH ARGS...`` (the interpreter running
the driver, unbuffered) in a session of its own, with a fresh writable work
directory as its cwd (an upload server's files land there), a pipe as its
stdin, and its stdout and stderr captured (up to :data:`OUTPUT_LIMIT` bytes
each; what comes after is counted and dropped). When the driver runs as
root (in its container), the program runs as ``nobody`` through
``setpriv`` with no capability at all, from a copy of its file in a
directory that user can read.

Resource handling: :func:`start_program` is an async context manager; on
the way out it kills the program's whole process group (SIGKILL), reaps it
(bounded wait), closes the pipes and ends the output pumps. Nothing it
starts outlives the block, also when the block is cancelled.

Error handling: a program that cannot be started raises ``OSError`` from
the block's start; a program that crashes is not an error here: its exit
status and stderr are what :meth:`LearnerProgram.wait_exit` and
:attr:`LearnerProgram.stderr` report.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import trio

OUTPUT_LIMIT = 1 << 20
"""Bytes of stdout (and of stderr) kept; the rest is counted and dropped."""
REAP_TIMEOUT = 5.0
DRAIN_TIMEOUT = 0.5  # after an exit, for the pipes' last bytes (a child may hold them open)
NOBODY = 65534
SETPRIV = (
    "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
    "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all",
)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def unprivileged_needed() -> bool:
    """Whether programs must be switched to ``nobody``: the driver runs as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


class _Capture:
    """One output stream, kept up to a limit, with a way to wait for more."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.limit = limit
        self.dropped = 0
        self.closed = False
        self._changed = trio.Event()

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class LearnerProgram:
    """A running learner program; made by :func:`start_program`."""

    def __init__(self, process: trio.Process, workdir: Path, argv: Sequence[str]) -> None:
        self.process = process
        self.workdir = workdir
        self.argv = tuple(argv)
        self._stdout = _Capture(OUTPUT_LIMIT)
        self._stderr = _Capture(OUTPUT_LIMIT)
        self._stdin_closed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        """Everything the program printed on stdout so far (decoded, errors replaced)."""
        return self._stdout.text()

    @property
    def stderr(self) -> str:
        """Everything the program wrote on stderr so far."""
        return self._stderr.text()

    def stderr_tail(self, lines: int = 5) -> str:
        """The last lines of stderr, joined with `` | ``: for a check's detail."""
        kept = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return " | ".join(kept[-lines:])

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def send_line(self, text: str) -> bool:
        """Write ``text`` and a newline to the program's stdin; False if it no longer reads."""
        return await self.send_bytes((text + "\n").encode())

    async def send_bytes(self, data: bytes) -> bool:
        stdin = self.process.stdin
        if stdin is None or self._stdin_closed:
            return False
        try:
            await stdin.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return False
        return True

    async def close_stdin(self) -> None:
        """End of input (what Ctrl-D does at a terminal)."""
        if self.process.stdin is not None and not self._stdin_closed:
            self._stdin_closed = True
            with suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                await self.process.stdin.aclose()

    async def wait_output(self, substring: str, timeout: float, *, after: int = 0) -> bool:
        """Wait until ``substring`` is in stdout (from character ``after`` on); False on timeout.

        Returns early (False) when the program has closed its stdout (exited).
        """
        with trio.move_on_after(timeout):
            while True:
                if substring in self.output[after:]:
                    return True
                if self._stdout.closed:
                    return False
                await self._stdout.changed()
        return substring in self.output[after:]

    async def wait_exit(self, timeout: float) -> int | None:
        """The exit status once it has exited within ``timeout``; None if it still runs.

        Once it has exited, what it wrote last is read too (briefly waited for),
        so ``output`` and ``stderr`` are whole.
        """
        with trio.move_on_after(timeout):
            await self.process.wait()
        if self.process.returncode is not None:
            await self.wait_output_closed(DRAIN_TIMEOUT)
        return self.process.returncode

    async def wait_output_closed(self, timeout: float) -> None:
        """Wait (at most ``timeout``) until stdout and stderr are read to their end.

        After the program exits, what it wrote last may still be in the pipes:
        read it before quoting its output or stderr.
        """
        with trio.move_on_after(timeout):
            for capture in (self._stdout, self._stderr):
                while not capture.closed:
                    await capture.changed()

    def kill(self) -> None:
        """SIGKILL to the program's whole process group (its session)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.process.returncode is None:
                with suppress(OSError):
                    self.process.kill()

    async def _pump(self, stream: trio.abc.ReceiveStream | None, capture: _Capture) -> None:
        if stream is None:
            capture.close()
            return
        try:
            while chunk := await stream.receive_some(65536):
                capture.feed(bytes(chunk))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        finally:
            capture.close()


def _prepare(program: Path, workdir: Path, unprivileged: bool) -> tuple[list[str], Path]:
    """The argv prefix and the file to run (in unprivileged mode a readable copy); makes workdir."""
    workdir.mkdir(parents=True, exist_ok=True)
    program = program.resolve()
    if not unprivileged:
        return [sys.executable, "-u"], program
    shelf = workdir.parent / "program"
    shelf.mkdir(exist_ok=True)
    shelf.chmod(0o755)
    copy = shelf / program.name
    shutil.copyfile(program, copy)
    copy.chmod(0o644)
    os.chown(workdir, NOBODY, NOBODY)
    return [*SETPRIV, sys.executable, "-u"], copy


def _environment(unprivileged: bool) -> dict[str, str]:
    base = {"PATH": SYSTEM_PATH, "HOME": "/tmp"} if unprivileged else dict(os.environ)
    base.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8",
                LANG="C.UTF-8")
    return base


@asynccontextmanager
async def start_program(
    path: Path,
    args: Sequence[str],
    *,
    workdir: Path,
    unprivileged: bool | None = None,
) -> AsyncIterator[LearnerProgram]:
    """Run ``python3 PATH ARGS...`` with cwd ``workdir`` (created) until the block ends."""
    unprivileged = unprivileged_needed() if unprivileged is None else unprivileged
    prefix, runnable = _prepare(path, workdir, unprivileged)
    argv = [*prefix, str(runnable), *args]
    process = await trio.lowlevel.open_process(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=str(workdir), env=_environment(unprivileged), start_new_session=True,
    )
    program = LearnerProgram(process, workdir, argv)
    try:
        async with helper_nursery() as nursery:
            nursery.start_soon(program._pump, process.stdout, program._stdout)
            nursery.start_soon(program._pump, process.stderr, program._stderr)
            try:
                yield program
            finally:
                program.kill()
                with trio.CancelScope(shield=True), trio.move_on_after(REAP_TIMEOUT):
                    await process.wait()
    finally:
        with trio.CancelScope(shield=True):
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with suppress(OSError, trio.ClosedResourceError, trio.BrokenResourceError):
                        await stream.aclose()


@asynccontextmanager
async def helper_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery for a block's helper tasks, cancelled when the block ends.

    The block's own exception comes out as itself, not wrapped in the
    nursery's ``ExceptionGroup`` (so a check can catch ``ProgramFailed``,
    and the driver sees ``TooSlowError``).
    """
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except BaseException as error:
                body_error = error
                raise
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        if body_error is not None and list(group.exceptions) == [body_error]:
            raise body_error from None
        raise
