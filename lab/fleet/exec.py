"""A fleet's exec clients: commands whose output and exit status are known in advance.

Each command (op id ``{process}/{i}``) is a shell line of the form::

    touch /tmp/netlab-ran.netlab-op-obs.exec-0_1.$$; head -c 1000 /dev/zero | tr '\\0' x; exit 3

It first records that it ran (one file per run: the at-most-once check counts
them in the exec container), then prints a seeded number of ``x`` bytes (from
``output_bytes``) and exits with a seeded status; so the client knows the
expected ``status``, ``stdout_bytes`` and ``stdout_sha256`` before it runs.
With ``stream_lines`` > 0 a client first runs one command printing
``line N`` every 50 ms (``WhileStreaming`` triggers fire on it).

Ops: ``invoke run``, ``info output`` (first chunk), then ``ok run`` (EXIT),
``fail run`` (ERROR: it did not run) or ``info run`` (outcome unknown: the
connection broke or ``command_timeout`` passed). A lost connection is
``info disconnected``; the client reconnects (bounded) for its next command
and never runs a command twice.

Resource handling: each connection is closed when the client leaves it
(closing it makes the server kill a command still running).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

import trio

from lab.fleet.record import CONNECT_TIMEOUT, RECONNECT, ProcessLog, describe, guarded
from lab.fleet.spec import ExecSpec
from services.remote_exec.client import ExecClient, ExecError, ExecRefused, open_exec

STATUSES = (0, 0, 0, 1, 3)  # mostly success: a status other than 0 is a result too
STREAM_PERIOD = 0.05
RESPONSE_TIMEOUT = 10.0
# The server kills a command at command_timeout; its EXIT needs a moment more.
EXIT_MARGIN = 5.0


@dataclass(frozen=True)
class PlannedCommand:
    """One command of a client's plan and what it must produce."""

    op: str
    command: str
    status: int
    stdout_bytes: int
    stdout_sha256: str

    @property
    def expect(self) -> dict[str, Any]:
        return {"status": self.status, "stdout_bytes": self.stdout_bytes,
                "stdout_sha256": self.stdout_sha256}


def marker(op: str) -> str:
    """The marker in a command's text (and in its ``netlab-ran`` file's name)."""
    return "netlab-op-" + op.replace("/", "_")


def _sha_of_x(count: int) -> str:
    hasher = hashlib.sha256()
    block = b"x" * 65536
    for start in range(0, count, len(block)):
        hasher.update(block[: count - start])
    return hasher.hexdigest()


def plan(process: str, seed: int, spec: ExecSpec) -> list[PlannedCommand]:
    """The commands client ``process`` runs, fixed by ``seed``."""
    rng = random.Random(f"{seed}:{process}")
    commands: list[PlannedCommand] = []

    def add(body: str, status: int, stdout: bytes | None, size: int = 0) -> None:
        op = f"{process}/{len(commands)}"
        touch = f"touch {spec.ran_dir.rstrip('/')}/netlab-ran.{marker(op)}.$$"
        text = f"{touch}; {body}; exit {status}"
        digest = hashlib.sha256(stdout).hexdigest() if stdout is not None else _sha_of_x(size)
        commands.append(PlannedCommand(op, text, status,
                                       len(stdout) if stdout is not None else size, digest))

    if spec.stream_lines:
        lines = spec.stream_lines
        body = (f"i=0; while [ $i -lt {lines} ]; do echo \"line $i\"; i=$((i+1)); "
                f"sleep {STREAM_PERIOD}; done")
        add(body, 0, "".join(f"line {i}\n" for i in range(lines)).encode())
    for _ in range(spec.commands):
        size = rng.choice(spec.output_bytes)
        status = rng.choice(STATUSES)
        add(f"head -c {size} /dev/zero | tr '\\0' x", status, None, size)
    return commands


class _Lost(Exception):
    """This connection is over (the message says why)."""


class ExecRun:
    """One exec client's whole run (all its connections)."""

    def __init__(self, log: ProcessLog, spec: ExecSpec, seed: int) -> None:
        self.log = log
        self.spec = spec
        self.commands = plan(log.process, seed, spec)
        self.next = 0

    async def run(self, deadline: float) -> None:
        await guarded(self.log, deadline, self._connections)

    async def _connections(self) -> None:
        delays = RECONNECT.delays()
        while self.next < len(self.commands):
            if await self._connection():
                delays = RECONNECT.delays()  # a connection that ran commands: fresh retries
            elif (delay := next(delays, None)) is None:
                return
            else:
                await trio.sleep(delay)

    async def _connection(self) -> bool:
        """One connection; True if it ran at least one command."""
        self.log.connecting()
        ran = False
        try:
            async with open_exec(self.spec.host, self.spec.port, token=self.spec.token,
                                 connect_timeout=CONNECT_TIMEOUT,
                                 response_timeout=min(RESPONSE_TIMEOUT,
                                                      self.spec.command_timeout)) as ex:
                self.log.connect_ok(ex.stream)
                while self.next < len(self.commands):
                    command = self.commands[self.next]
                    self.next += 1
                    ran = True
                    lost = await self._run(ex, command)
                    if lost:
                        raise _Lost(lost)
            self.log.closed()
        except (_Lost, ExecError, OSError) as exc:
            if self.log.connected:
                self.log.lost(describe(exc))
            else:
                self.log.connect_fail(describe(exc))
        return ran

    async def _run(self, ex: ExecClient, command: PlannedCommand) -> str | None:
        """Run one command; the reason the connection is lost, or None."""
        op = command.op
        self.log.invoke("run", {"op": op, "command": command.command, "expect": command.expect})
        hasher = hashlib.sha256()
        received = 0

        def on_stdout(data: bytes) -> None:
            nonlocal received
            if not received and data:
                self.log.info("output", {"op": op, "bytes": len(data)})
            received += len(data)
            hasher.update(data)

        with trio.move_on_after(self.spec.command_timeout + EXIT_MARGIN):
            try:
                result = await ex.run(command.command, timeout=self.spec.command_timeout,
                                      on_stdout=on_stdout, capture=False)
            except ExecRefused as exc:
                self.log.fail("run", {"op": op, "code": exc.code, "message": exc.message})
                return f"{exc.code}: {exc.message}" if exc.fatal else None
            except ExecError as exc:
                self.log.info("run", {"op": op, "error": describe(exc)})
                return describe(exc)
            self.log.ok("run", {
                "op": op, "status": result.status, "signal": result.signal,
                "stdout_bytes": received, "stdout_sha256": hasher.hexdigest(),
                "stderr_bytes": result.stderr_bytes, "reason": result.reason.value,
            })
            return None
        error = f"no end within {self.spec.command_timeout + EXIT_MARGIN:g} s"
        self.log.info("run", {"op": op, "error": error})
        return error
