"""The lab a bench runs on: baseline servers and load programs in containers of its network.

``async with ctx.baseline("tutorial-upload", argv, port=9000) as host:`` runs
a baseline server (``argv[0]`` is the entry point: ``python``, ``iperf3``...)
in a labelled container of the netlab image that answers to ``host`` on the
lab network, and waits until ``host:port`` accepts; leaving the block removes
it. ``await ctx.load(argv)`` runs a load program (``lab bench-load ...``) in a
client container and returns the one JSON object it prints.
``async with ctx.profiling(SECTION, FIGURE, SERVICE):`` records netlab's
``SERVICE`` server with py-spy for the block when the run profiles
(``lab bench --profile``, :mod:`lab.bench.pyspy`), and does nothing else.

Resource handling: every container is labelled with the lab's project and
removed when its block ends, also on error or cancellation
(:mod:`lab.containers`); the stack's teardown removes anything left.
Error handling: a baseline that never accepts, or a load program that exits
non-zero or prints no JSON, raises :class:`lab.errors.BenchError` carrying the
end of its stderr.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from lab.containers import Launch, run_program, run_to_end
from lab.errors import BenchError
from lab.scenarios.session import LabSession

if TYPE_CHECKING:
    from lab.bench.pyspy import Recorder

READY_TIMEOUT = 30.0
LOAD_TIMEOUT = 600.0
BASELINE_MEMORY = "1g"


@dataclass
class BenchContext:
    """One bench run's view of the lab; ``quick`` asks the sections for small loads;
    ``profiler`` records netlab's servers under load (``None``: no profiling)."""

    session: LabSession
    quick: bool = False
    profiler: Recorder | None = None

    @property
    def place(self) -> Any:
        return self.session.context

    @property
    def token(self) -> str:
        return self.session.exec_token

    def service(self, name: str) -> Any:
        """The container of netlab's ``name`` server (docker SDK object)."""
        return self.session.stack.container(name)

    @asynccontextmanager
    async def profiling(self, section: str, figure: str, service: str) -> AsyncIterator[None]:
        """Record netlab's ``service`` server for the block, as ``section``-``figure``."""
        if self.profiler is None:
            yield
            return
        async with self.profiler.record(self.service(service), section, figure):
            yield

    @asynccontextmanager
    async def baseline(self, name: str, argv: Sequence[str], *, port: int,
                       env: Mapping[str, str] | None = None,
                       ready_timeout: float = READY_TIMEOUT) -> AsyncIterator[str]:
        """Run a baseline server answering to ``name`` for the block; yields ``name``."""
        launch = Launch(role="baseline", labels={"baseline": name}, aliases=(name,),
                        environment=dict(env or {}), memory=BASELINE_MEMORY)
        async with run_program(self.place, argv, launch=launch, hold_stdin=True) as program:
            await self._wait_accepting(name, port, ready_timeout, program)
            try:
                yield name
            finally:
                await program.kill("SIGTERM")

    async def _wait_accepting(self, host: str, port: int, timeout: float, program: Any) -> None:
        probe = ("import socket, sys, time\n"
                 f"end = time.monotonic() + {timeout}\n"
                 "while True:\n"
                 f"    try: socket.create_connection(({host!r}, {port}), 1).close(); break\n"
                 "    except OSError:\n"
                 "        if time.monotonic() > end: sys.exit(1)\n"
                 "        time.sleep(0.2)\n")
        end = await run_to_end(self.place, ["python", "-c", probe], timeout=timeout + 30)
        if end.status != 0:
            with trio.move_on_after(5):
                await program.kill()
                stopped = await program.wait()
                raise BenchError(f"baseline {host} never accepted on port {port}: "
                                 f"{stopped.stderr.strip()[-800:]}")
            raise BenchError(f"baseline {host} never accepted on port {port}")

    async def load(self, argv: Sequence[str], *, timeout: float = LOAD_TIMEOUT,
                   env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Run a load program in a client container; the JSON object it printed."""
        launch = Launch(role="bench-load", environment=dict(env or {}), memory=BASELINE_MEMORY)
        end = await run_to_end(self.place, argv, launch=launch, timeout=timeout)
        text = "\n".join(end.stdout).strip()
        if end.status != 0 or not text:
            raise BenchError(f"{' '.join(argv[:4])} exited {end.status}: "
                             f"{end.stderr.strip()[-800:]}")
        try:
            found: dict[str, Any] = json.loads(text.splitlines()[-1])
        except json.JSONDecodeError as exc:
            raise BenchError(f"{' '.join(argv[:4])} printed no JSON: {text[-300:]}") from exc
        return found
