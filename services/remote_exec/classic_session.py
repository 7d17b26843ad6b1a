"""Classic mode: the tutorial's exec client, byte for byte.

The exchange's bytes (command, length, ack, result) are
:mod:`services.remote_exec.classic`'s; this module runs the commands.

Unlike the tutorial's server the pipes are read while the command runs (no
hang past 64 KiB), and the same limits apply as in netlab mode: time limit,
output cap (lower here, as the answer must be held whole to send its
length first), concurrency, kill of the whole group when the client leaves.
A command netlab had to end answers with its stderr plus a ``netlab:`` line
saying why. There is no token: the tutorial client cannot send one, so
classic mode is a server switch (``--classic/--no-classic``).

Every receive is acknowledged at once (:func:`~services.runtime.acks.ack_now`):
the client sends ``ok`` and, when the result is empty, its next command right
after; with Nagle on, that command would wait for the kernel's delayed ACK of
``ok`` (about 40 ms a command). The ACK of ``ok`` itself is held until the
server has read it (:func:`~services.runtime.acks.delay_acks` before the
length is sent): acknowledged by the kernel on arrival, it would release the
next command while ``ok`` still waits to be read, and one receive would
return both (``oktrue``). A relay on the way (the lab's gateway) can glue
them all the same: its own socket acknowledges ``ok`` and sends the command
right behind it. So bytes after a leading ``ok`` are taken as the next
command (:func:`~services.remote_exec.classic.split_ack`), counted as
``classic_glued_ack``.
"""

from __future__ import annotations

import logging
import math

import trio

from services.remote_exec.classic import (
    CLASSIC_OFF,
    BadCommand,
    ClassicExchange,
    Command,
    choose_result,
    note,
)
from services.remote_exec.context import ServerContext, describe_command
from services.remote_exec.outcome import Limits, Stop
from services.remote_exec.policy import NoSlot
from services.remote_exec.runner import CommandRun, Stream
from services.remote_exec.stopper import Stopper
from services.runtime.acks import ack_now, delay_acks
from services.runtime.connection import PeerConnection
from services.runtime.errors import PeerTimeout, RuntimeFailure
from services.runtime.logs import log_event
from services.wire.sentinels import CLOSED

RECEIVE_SIZE = 64 * 1024
SEND_CHUNK = 256 * 1024


class ClassicSession:
    """Serves one tutorial exec client."""

    def __init__(self, ctx: ServerContext, conn: PeerConnection) -> None:
        self.ctx = ctx
        self.conn = conn
        self.exchange = ClassicExchange()
        self._held = 0  # bytes of this connection's answer counted in ctx.classic_held

    async def run(self, first: bytes) -> None:
        """Serve commands until the client leaves; ``first`` is the first command's bytes."""
        try:
            await self._serve(first)
        finally:
            self._release()

    def _hold(self, size: int) -> bool:
        """Count ``size`` more bytes of answer against the budget; False if it is spent."""
        if self.ctx.classic_held + size > self.ctx.config.classic_memory:
            return False
        self.ctx.classic_held += size
        self._held += size
        return True

    def _release(self) -> None:
        self.ctx.classic_held -= self._held
        self._held = 0

    async def _serve(self, first: bytes) -> None:
        command = self.exchange.receive_command(first)
        if not self.ctx.config.classic:
            self.ctx.count("classic_refused")
            log_event(self.ctx.logger, "classic-disabled", peer=self.conn.peer)
            await self._answer(CLASSIC_OFF)
            return
        while command is not CLOSED:
            result = await self._execute(command)
            if result is None:
                return
            chunk = await self._answer(result)
            if chunk is None:
                return
            if chunk:
                self.ctx.count("classic_glued_ack")
                log_event(self.ctx.logger, "glued-ack", level=logging.DEBUG,
                          peer=self.conn.peer, command=describe_command(chunk))
            else:
                with self.ctx.idle_waits.idle():
                    chunk = await self._receive()
            command = self.exchange.receive_command(chunk)

    async def _answer(self, result: bytes) -> bytes | None:
        """Length, wait for the ack, result.

        The bytes that came after the ack (the next command's start, often
        ``b""``); None if the client left instead of acking.
        """
        try:
            delay_acks(self.conn.stream)  # ``ok`` is acknowledged once read, by _receive
            await self.conn.send(self.exchange.send_length(result))
            # Not cut short by shutdown: the answer is in flight (serve's grace bounds it).
            # A short limit: the answer sits in memory until the ack.
            try:
                chunk = await self._receive(self.ctx.config.classic_ack_timeout)
            except PeerTimeout:
                self.ctx.count("classic_ack_timeout")
                self.ctx.counters.error("classic-ack-timeout")
                log_event(self.ctx.logger, "classic-ack-timeout", level=logging.WARNING,
                          peer=self.conn.peer, timeout=self.ctx.config.classic_ack_timeout)
                return None
            acked = self.exchange.receive_ack(chunk)
            if acked is CLOSED:
                return None
            for start in range(0, len(acked.result), SEND_CHUNK):
                await self.conn.send(acked.result[start : start + SEND_CHUNK])
            return acked.rest
        finally:
            self._release()

    async def _receive(self, timeout: float | None = None) -> bytes:
        """One receive, acknowledged now: the client's next send may be waiting on that ACK."""
        chunk = await self.conn.receive(RECEIVE_SIZE, timeout=timeout)
        ack_now(self.conn.stream)  # not sticky: the kernel returns to delaying by itself
        return chunk

    async def _execute(self, command: Command | BadCommand) -> bytes | None:
        """Run one command; its answer, or None if the client left meanwhile."""
        config = self.ctx.config
        self.ctx.count("classic_commands")
        if isinstance(command, BadCommand):
            self.ctx.count("commands_refused")
            return command.answer
        if self.ctx.classic_held >= config.classic_memory:
            self.ctx.count("commands_refused")
            self.ctx.count("refused_classic_memory")
            self.ctx.counters.error("classic-memory")
            log_event(self.ctx.logger, "busy", peer=self.conn.peer, mode="classic",
                      error="classic answers use up their memory budget")
            return note(f"busy: classic answers already hold {self.ctx.classic_held} bytes"
                        " of the server's memory; try again in a moment")
        try:
            with self.ctx.idle_waits.idle() as scope:
                await self.ctx.admission.acquire(config.queue_timeout)
        except NoSlot as exc:
            self.ctx.count("commands_refused")
            self.ctx.count("refused_busy")
            log_event(self.ctx.logger, "busy", peer=self.conn.peer, mode="classic", error=exc)
            return note(f"busy: {exc}")
        if scope.cancelled_caught:
            return None  # shutting down
        try:
            return await self._run(command.text)
        finally:
            self.ctx.admission.release()

    async def _run(self, command: bytes) -> bytes | None:
        config = self.ctx.config
        limits = Limits(config.command_timeout, min(config.output_limit,
                                                    config.classic_output_limit))
        buffers = {Stream.STDOUT: bytearray(), Stream.STDERR: bytearray()}
        over_budget = False

        async def sink(which: Stream, data: bytes) -> None:
            nonlocal over_budget
            if not self._hold(len(data)):
                over_budget = True
                stopper.stop(Stop.OUTPUT_LIMIT)
                return
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
                return note(f"cannot start the shell: {exc}")
            finally:
                nursery.cancel_scope.cancel()
        self.ctx.record(outcome, peer=self.conn.peer, mode="classic")
        if outcome.stop is Stop.DISCONNECTED:
            return None
        if over_budget:
            self.ctx.count("classic_memory_kills")
            self.ctx.counters.error("classic-memory")
            return note("command killed: classic answers use up the server's memory budget")
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
