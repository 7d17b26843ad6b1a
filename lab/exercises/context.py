"""What a check's ``run(ctx)`` is given: the learner's program, references, proxies, sockets.

A :class:`CheckContext` belongs to one check of one run. Its blocks start
what the check needs and stop it at the block's end:

* ``async with ctx.server_program() as prog`` starts the learner's server
  (``python3 PATH HOST PORT``) and returns once ``ctx.port`` is listening
  (seen in ``/proc/net/tcp``, without connecting: a tutorial server that
  serves one client would spend it on the probe); a program that exits or
  does not listen within :data:`LISTEN_TIMEOUT` raises
  :class:`~lab.errors.ProgramFailed`, which the driver turns into a failed
  check.
* ``async with ctx.client_program() as prog`` starts the learner's client
  (``python3 PATH HOST PORT``, by default towards ``ctx.port``).
* ``async with ctx.reference_server(kind, ...) as port`` runs a server the
  check trusts: ``"chat"``, ``"exec"`` or ``"upload"`` (netlab's own,
  in-process, options going to its config), a Trio handler
  ``async def handler(stream)`` (served with ``trio.serve_tcp``), or a
  program of the repository's ``exercises/`` folder
  (``"01-first-connection/reference_server.py"``).
* ``async with ctx.proxy(upstream_port, *toxics) as port`` relays through
  :mod:`lab.proxy`'s toxics, seeded with the run's seed.

``await ctx.connect()`` and ``await ctx.recv_until(...)`` are the reference
client's bounded socket calls.

Randomness: ``ctx.random`` is seeded from the run's seed and the check's
name, so one check replays alike alone (``--only``) or in a full run.

Resource handling: every block owns what it starts (process, nursery,
listener) and stops it on the way out, also when cancelled; the streams
``connect`` returns belong to the caller (``async with`` them).
"""

from __future__ import annotations

import os
import random
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import trio

from lab.errors import ProgramFailed, UnknownExercise
from lab.exercises.program import LearnerProgram, helper_nursery, start_program
from lab.proxy.proxy import Proxy
from lab.proxy.toxics import Toxic

HOST = "127.0.0.1"
LISTEN_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
EXERCISES_ENV = "NETLAB_EXERCISES"

Handler = Callable[[trio.SocketStream], Awaitable[None]]


def exercises_root() -> Path:
    """The repository's ``exercises/`` folder (``$NETLAB_EXERCISES`` in the grading container)."""
    configured = os.environ.get(EXERCISES_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "exercises"


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _proc_listening(port: int) -> bool | None:
    """Whether some socket listens on ``port`` per ``/proc/net/tcp{,6}``; None without procfs."""
    wanted = f":{port:04X}"
    seen = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                seen = True
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    if len(fields) > 3 and fields[3] == "0A" and fields[1].endswith(wanted):
                        return True
        except OSError:
            continue
    return False if seen else None


async def _connect_probe(host: str, port: int) -> bool:
    try:
        with trio.fail_after(1):
            stream = await trio.open_tcp_stream(host, port)
    except (OSError, trio.TooSlowError):
        return False
    await stream.aclose()
    return True


async def listening(host: str, port: int) -> bool:
    """Whether ``host:port`` accepts connections (without connecting where procfs can tell)."""
    seen = _proc_listening(port)
    if seen is not None:
        return seen
    return await _connect_probe(host, port)


def _check_seed(seed: int, check: str) -> int:
    return (seed << 32) ^ zlib.crc32(check.encode())


@dataclass
class CheckContext:
    """One check's run: the learner's program path, the port, the seed, and helpers.

    ``port`` is the exercise's port in the grading container, a free port
    with ``--local``. ``scratch`` is a directory of this check's own (the
    programs' work directories go under it).
    """

    exercise: str
    check: str
    program_path: Path
    seed: int
    port: int
    scratch: Path
    host: str = HOST
    unprivileged: bool | None = None
    random: random.Random = field(init=False)
    _runs: count[int] = field(init=False, default_factory=count)

    def __post_init__(self) -> None:
        self.random = random.Random(_check_seed(self.seed, self.check))

    def _workdir(self, kind: str) -> Path:
        path = self.scratch / f"{kind}-{next(self._runs)}" / "work"
        path.mkdir(parents=True)
        return path

    # The learner's program --------------------------------------------------

    @asynccontextmanager
    async def server_program(
        self, *, port: int | None = None, listen_timeout: float = LISTEN_TIMEOUT,
    ) -> AsyncIterator[LearnerProgram]:
        """The learner's server, once it listens on ``port`` (default ``ctx.port``)."""
        port = self.port if port is None else port
        async with start_program(
            self.program_path, [self.host, str(port)],
            workdir=self._workdir("server"), unprivileged=self.unprivileged,
        ) as program:
            await self._await_listening(program, port, listen_timeout)
            yield program

    async def _await_listening(self, program: LearnerProgram, port: int, limit: float) -> None:
        with trio.move_on_after(limit):
            while True:
                if await listening(self.host, port):
                    return
                if not program.alive:
                    await program.wait_exit(1)
                    raise ProgramFailed(
                        f"exited with status {program.returncode} before listening on "
                        f"{port}" + _tail(program))
                await trio.sleep(POLL_INTERVAL)
        raise ProgramFailed(f"never accepted on {port} within {limit:g}s" + _tail(program))

    @asynccontextmanager
    async def client_program(self, *, port: int | None = None) -> AsyncIterator[LearnerProgram]:
        """The learner's client, told to connect to ``port`` (default ``ctx.port``)."""
        port = self.port if port is None else port
        async with start_program(
            self.program_path, [self.host, str(port)],
            workdir=self._workdir("client"), unprivileged=self.unprivileged,
        ) as program:
            yield program

    # What the check trusts ----------------------------------------------------

    @asynccontextmanager
    async def reference_server(
        self, kind: str | Handler, *, port: int | None = None, **options: Any,
    ) -> AsyncIterator[int]:
        """A trusted server on ``port`` (default: a free one); yields its port.

        ``kind``: ``"chat"``, ``"exec"``, ``"upload"`` (netlab's servers,
        ``options`` going to their config), a Trio handler, or a program of
        ``exercises/`` (a path ending in ``.py``, relative to that folder).
        """
        listen = 0 if port is None else port
        async with helper_nursery() as nursery:
            if callable(kind):
                bound = await self._serve_handler(nursery, kind, listen)
                yield bound
            elif kind.endswith(".py"):
                bound = listen or free_port(self.host)
                async with self._reference_program(kind, bound):
                    yield bound
            else:
                server = _netlab_server(kind, self.host, listen, self.scratch, options)
                bound = await nursery.start(server.run)
                yield bound

    async def _serve_handler(self, nursery: trio.Nursery, handler: Handler, port: int) -> int:
        async def serve_one(stream: trio.SocketStream) -> None:
            async with stream:
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await handler(stream)

        listeners = await nursery.start(
            partial(trio.serve_tcp, serve_one, port, host=self.host))
        bound: int = listeners[0].socket.getsockname()[1]
        return bound

    @asynccontextmanager
    async def _reference_program(self, name: str, port: int) -> AsyncIterator[LearnerProgram]:
        path = exercises_root() / name
        if not path.is_file():
            raise UnknownExercise(f"no reference program {path}")
        async with start_program(
            path, [self.host, str(port)],
            workdir=self._workdir("reference"), unprivileged=self.unprivileged,
        ) as program:
            try:
                await self._await_listening(program, port, LISTEN_TIMEOUT)
            except ProgramFailed as error:  # the grader's fault, not the learner's
                raise RuntimeError(f"reference server {name}: {error}") from error
            yield program

    @asynccontextmanager
    async def proxy(
        self, upstream_port: int, *toxics: Toxic, listen_port: int | None = None,
    ) -> AsyncIterator[int]:
        """A fault proxy from ``listen_port`` (default: free) to ``upstream_port``; yields its port.

        ``toxics`` are :mod:`lab.proxy.toxics` value objects, each with a name of its own.
        """
        relay = Proxy(
            name=f"{self.check}-proxy", upstream=(self.host, upstream_port),
            listen=(self.host, listen_port or 0), seed=self.random.getrandbits(32))
        for toxic in toxics:
            relay.add_toxic(toxic)
        async with helper_nursery() as nursery:
            bound: int = await nursery.start(relay.run)
            yield bound

    # A reference client's socket calls ---------------------------------------

    async def connect(self, port: int | None = None, *,
                      timeout: float = CONNECT_TIMEOUT) -> trio.SocketStream:
        """A connection to ``port`` (default ``ctx.port``); raises ``ProgramFailed`` if refused."""
        port = self.port if port is None else port
        try:
            with trio.fail_after(timeout):
                return await trio.open_tcp_stream(self.host, port)
        except trio.TooSlowError:
            raise ProgramFailed(f"connecting to {port} took over {timeout:g}s") from None
        except OSError as error:
            raise ProgramFailed(f"could not connect to {port}: {error.strerror or error}") from None

    async def recv_until(
        self,
        stream: trio.abc.ReceiveStream,
        until: bytes | Callable[[bytes], bool],
        timeout: float,
        *,
        limit: int = 1 << 20,
    ) -> bytes:
        """Receive until ``until`` (bytes to find, or a predicate on all received) holds.

        Returns everything received: also when the peer closed, ``timeout``
        expired or ``limit`` bytes arrived first, so the caller checks what
        it got (and can show it as evidence). A reset counts as a close.
        """
        done = partial(_contains, until) if isinstance(until, bytes) else until
        received = bytearray()
        with trio.move_on_after(timeout):
            while not done(bytes(received)) and len(received) < limit:
                try:
                    chunk = await stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                if not chunk:
                    break
                received += chunk
        return bytes(received)

    async def recv_all(self, stream: trio.abc.ReceiveStream, timeout: float) -> bytes:
        """Everything until the peer closes (or ``timeout``)."""
        return await self.recv_until(stream, lambda _: False, timeout)


def _contains(needle: bytes, haystack: bytes) -> bool:
    return needle in haystack


def _tail(program: LearnerProgram) -> str:
    tail = program.stderr_tail()
    return f"; stderr: {tail}" if tail else ""


def _netlab_server(kind: str, host: str, port: int, scratch: Path,
                   options: dict[str, Any]) -> Any:
    """One of netlab's servers, built but not started."""
    import logging

    logger = logging.getLogger("netlab.exercises")
    if kind == "chat":
        from services.chat.config import ChatConfig
        from services.chat.server import ChatServer

        return ChatServer(ChatConfig(**{"host": host, "port": port, **options}), logger=logger)
    if kind == "exec":
        from services.remote_exec.config import ExecConfig
        from services.remote_exec.server import ExecServer

        exec_config = ExecConfig(
            **{"host": host, "port": port, "token": "netlab-check", **options})
        return ExecServer(exec_config, logger=logger)
    if kind == "upload":
        from services.upload.config import UploadConfig
        from services.upload.server import UploadServer

        root = scratch / "reference-uploads"
        config = UploadConfig(**{"host": host, "port": port, "root": root, **options})
        return UploadServer(config, logger=logger)
    raise UnknownExercise(f"no reference server {kind!r} (chat, exec, upload, a handler, a .py)")
