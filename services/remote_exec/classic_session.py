"""Classic mode: the tutorial's exec client, byte for byte.

The exchange, per command (see ``docs/protocol.md``): the client sends the
command with one ``send``; the server runs it and answers with the result's
length as ASCII digits, waits for one ``recv`` of anything (the client's
``ok``), then sends the result — stdout if the exit status is 0, else
stderr. Several commands per connection; an empty result is ``0``, ack,
nothing.

Unlike the tutorial's server the pipes are read while the command runs (no
hang past 64 KiB), and the same limits apply as in netlab mode: time limit,
output cap (lower here, as the answer must be held whole to send its
length first), concurrency, kill of the whole group when the client leaves.
A command netlab had to end answers with its stderr plus a ``netlab:`` line
saying why. There is no token: the tutorial client cannot send one, so
classic mode is a server switch (``--classic/--no-classic``).
"""

from __future__ import annotations

import logging
import math

import trio

from services.remote_exec.context import ServerContext, describe_command
from services.remote_exec.outcome import Limits, Outcome, Stop
from services.remote_exec.policy import NoSlot
from services.remote_exec.runner import CommandRun, Stopper, Stream
from services.runtime.connection import PeerConnection
from services.runtime.errors import RuntimeFailure
from services.runtime.logs import log_event

RECEIVE_SIZE = 64 * 1024
SEND_CHUNK = 256 * 1024


def choose_result(outcome: Outcome, stdout: bytes, stderr: bytes, limits: Limits) -> bytes:
    """The tutorial's rule (stdout if status 0, else stderr), plus why netlab ended it."""
    if outcome.stop is Stop.EXITED:
        return stdout if outcome.status == 0 else stderr
    notes = {
        Stop.TIMEOUT: f"command killed after {limits.timeout:g} s (time limit)",
        Stop.OUTPUT_LIMIT: f"command killed: output over {limits.output_limit} bytes",
        Stop.SHUTDOWN: "server shutting down; command killed",
    }
    note = notes.get(outcome.stop, "command cancelled")
    separator = b"" if not stderr or stderr.endswith(b"\n") else b"\n"
    return stderr + separator + f"netlab: {note}\n".encode()


class ClassicSession:
    """Serves one tutorial exec client."""

    def __init__(self, ctx: ServerContext, conn: PeerConnection) -> None:
        self.ctx = ctx
        self.conn = conn

    async def run(self, first: bytes) -> None:
        """Serve commands until the client leaves; ``first`` is the first command's bytes."""
        await self._serve(first)

    async def _serve(self, command: bytes) -> None:
        if not self.ctx.config.classic:
            self.ctx.count("classic_refused")
            log_event(self.ctx.logger, "classic-disabled", peer=self.conn.peer)
            await self._answer(b"netlab: classic mode is off on this server; "
                               b"use `netlab exec run`\n")
            return
        while command:
            result = await self._execute(command)
            if result is None or not await self._answer(result):
                return
            command = b""
            with self.ctx.idle_waits.idle():
                command = await self.conn.receive(RECEIVE_SIZE)

    async def _answer(self, result: bytes) -> bool:
        """Length, wait for the ack, result. False if the client left instead of acking."""
        await self.conn.send(str(len(result)).encode("ascii"))
        # Not cut short by shutdown: the answer is in flight (serve's grace bounds it).
        ack = await self.conn.receive(RECEIVE_SIZE)
        if not ack:
            return False
        for start in range(0, len(result), SEND_CHUNK):
            await self.conn.send(result[start : start + SEND_CHUNK])
        return True

    async def _execute(self, command: bytes) -> bytes | None:
        """Run one command; its answer, or None if the client left meanwhile."""
        config = self.ctx.config
        self.ctx.count("classic_commands")
        if b"\x00" in command:
            self.ctx.count("commands_refused")
            return b"netlab: bad command (NUL byte)\n"
        try:
            with self.ctx.idle_waits.idle() as scope:
                await self.ctx.admission.acquire(config.queue_timeout)
        except NoSlot as exc:
            self.ctx.count("commands_refused")
            self.ctx.count("refused_busy")
            log_event(self.ctx.logger, "busy", peer=self.conn.peer, mode="classic", error=exc)
            return f"netlab: busy: {exc}\n".encode()
        if scope.cancelled_caught:
            return None  # shutting down
        try:
            return await self._run(command)
        finally:
            self.ctx.admission.release()

    async def _run(self, command: bytes) -> bytes | None:
        config = self.ctx.config
        limits = Limits(config.command_timeout, min(config.output_limit,
                                                    config.classic_output_limit))
        buffers = {Stream.STDOUT: bytearray(), Stream.STDERR: bytearray()}

        async def sink(which: Stream, data: bytes) -> None:
            buffers[which] += data

        async def started(pid: int) -> None:
            self.ctx.count("commands_started")
            log_event(self.ctx.logger, "run", peer=self.conn.peer, mode="classic", pid=pid,
                      command=describe_command(command))

        stopper = Stopper()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_client, stopper)
            try:
                outcome = await CommandRun(self.ctx, command, limits=limits, sink=sink,
                                           stopper=stopper).run(started)
            except OSError as exc:
                self.ctx.count("spawn_failed")
                log_event(self.ctx.logger, "spawn-failed", level=logging.ERROR,
                          peer=self.conn.peer, error=exc)
                return f"netlab: cannot start the shell: {exc}\n".encode()
            finally:
                nursery.cancel_scope.cancel()
        self.ctx.record(outcome, peer=self.conn.peer, mode="classic")
        if outcome.stop is Stop.DISCONNECTED:
            return None
        return choose_result(outcome, bytes(buffers[Stream.STDOUT]),
                             bytes(buffers[Stream.STDERR]), limits)

    async def _watch_client(self, stopper: Stopper) -> None:
        """The tutorial client is silent while it waits; EOF or a reset means it left."""
        try:
            while await self.conn.receive(RECEIVE_SIZE, timeout=math.inf):
                self.ctx.count("classic_unexpected_bytes")  # classic cannot tell what they mean
        except RuntimeFailure:
            pass
        stopper.stop(Stop.DISCONNECTED)
