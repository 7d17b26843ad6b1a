"""Running a fleet: every client of a :class:`FleetSpec` as a Trio task in one nursery.

``await run_fleet(spec, out)`` starts each client (chat, exec, upload; see
their modules), writes their ops to ``out`` as JSON lines as they happen and
returns when all are done, or at the spec's ``deadline`` (seconds from the
start) whichever comes first: each client then records what it had in
flight as ``info`` and stops. A client's failure is ops, never an exception:
``run_fleet`` raises only for a bug in the harness itself.

Resource handling: every connection belongs to its client's task and is
closed when the task ends; the clean-up after the deadline is bounded by
``CLEANUP``.
"""

from __future__ import annotations

import logging
from typing import TextIO

import trio

from lab.fleet.chat import ChatFleet, ChatRun
from lab.fleet.exec import ExecRun
from lab.fleet.record import OpWriter, ProcessLog
from lab.fleet.spec import FleetSpec, process_name
from lab.fleet.upload import UploadRun

LOGGER = logging.getLogger("lab.fleet")
CLEANUP = 5.0  # seconds after the deadline for polite goodbyes, then everything is cut


async def run_fleet(spec: FleetSpec, out: TextIO) -> None:
    """Run every client of ``spec``; write their ops to ``out``, one JSON line each."""
    writer = OpWriter(out)
    deadline = trio.current_time() + spec.deadline
    LOGGER.info("fleet %s: %d clients, seed %d, deadline %g s", spec.name,
                len(spec.processes()), spec.seed, spec.deadline)
    with trio.move_on_at(deadline + CLEANUP):
        async with trio.open_nursery() as nursery:
            if spec.chat is not None:
                fleet = ChatFleet(spec.chat.clients)
                for i in range(spec.chat.clients):
                    log = ProcessLog(writer, process_name(spec.name, "chat", i))
                    nursery.start_soon(ChatRun(log, spec.chat, fleet).run, deadline)
            if spec.exec is not None:
                for i in range(spec.exec.clients):
                    log = ProcessLog(writer, process_name(spec.name, "exec", i))
                    nursery.start_soon(ExecRun(log, spec.exec, spec.seed).run, deadline)
            if spec.upload is not None:
                for i in range(spec.upload.clients):
                    log = ProcessLog(writer, process_name(spec.name, "upload", i))
                    run = UploadRun(log, spec.upload, spec.name, i, spec.seed)
                    nursery.start_soon(run.run, deadline)
    LOGGER.info("fleet %s: done", spec.name)
