"""Programs of the lab image in containers of their own: labelled, streamed, always removed.

:func:`run_program` runs one command of the netlab image (``lab fleet run``,
``lab rogue``, ``lab probe``, or ``sh -c ...`` in a sidecar) in a new
container, by default on the lab network as the image's unprivileged user
with every capability dropped. It writes ``stdin`` to the program, hands
the program's stdout lines over as they come through a bounded memory
channel (:attr:`Program.lines`), and :meth:`Program.wait` gives the exit
status and the end of stderr. :func:`run_to_end` is the short form for a
program that ends by itself (a sidecar, a probe). :func:`start_detached`
and :func:`finish_detached` run a program across two calls with no handle
kept in between (a fault's ``apply`` and ``revert``): the container is
found again by its labels and its stdin closed through a fresh attach.

A fleet runs in role ``fleet`` with the label ``org.netlab.fleet=NAME``
(:func:`run_fleet`), which is how ``FaultContext.fleet_container`` finds it.

Resource handling: every container carries ``place.labels(...)`` (netlab's
labels, the compose project's, its role) and a label unique to the run;
leaving :func:`run_program`'s block removes whatever container has that
label, also when creating or starting it failed or the block was cancelled
(model: testcontainers). Stdout is read from the attach socket, attached
before the start so that nothing is missed, one frame per worker-thread
call; the block's end shuts the socket down, which wakes that thread, and
the socket is closed only once the thread is done with it. A reader that
stops consuming ``program.lines`` eventually blocks the program's writes
(back-pressure); closing ``program.lines`` lets the output be discarded.

Error handling: Docker's errors (``docker.errors.APIError``,
``ImageNotFound``) pass through; a program's failure is its exit status,
never an exception.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import docker
import docker.errors
import trio
from docker.utils.socket import STDOUT, frames_iter

from lab.labels import LABEL_PREFIX, SESSION_ID

ROLE_LABEL = f"{LABEL_PREFIX}.role"
FLEET_LABEL = f"{LABEL_PREFIX}.fleet"
RUN_LABEL = f"{LABEL_PREFIX}.run"
LINE_BUFFER = 1024  # stdout lines held for a slow reader before the program blocks
LINE_LIMIT = 1 << 20  # a longer "line" is handed over in pieces of this size
STDERR_KEEP = 64 * 1024  # the end of stderr kept for the exit report
CLEANUP_TIMEOUT = 30.0
STOP_WAIT = 10.0  # how long finish_detached waits after closing stdin before a kill
MEMORY = "256m"
OPEN_FILES = 16384


class Placement(Protocol):
    """Where programs run: what :func:`run_program` needs of the lab (a ``LabContext``)."""

    @property
    def docker(self) -> Any:
        """A ``docker.DockerClient``."""

    @property
    def image(self) -> str:
        """The netlab image."""

    def network(self) -> Any:
        """The lab's internal network."""

    def labels(self, **extra: str) -> dict[str, str]:
        """Labels for a container the harness creates."""


@dataclass(frozen=True)
class Exit:
    """How a program ended: its status (128+N for signal N) and the end of its stderr."""

    status: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class Finished(Exit):
    """A program run to its end, with all its stdout lines."""

    stdout: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Launch:
    """How to start a program's container (the defaults suit fleets and rogue peers).

    ``network_mode`` ``None`` means the lab network; ``container:ID`` joins
    another container's network namespace (sidecars). ``user`` ``None`` is
    the image's unprivileged user. Every capability is dropped but ``cap_add``.
    """

    role: str = "program"
    labels: Mapping[str, str] = field(default_factory=dict)
    network_mode: str | None = None
    user: str | None = None
    cap_add: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    dns_options: tuple[str, ...] = ()  # resolv.conf options, e.g. ("timeout:1", "attempts:1")
    aliases: tuple[str, ...] = ()  # names it answers to on the lab network (a baseline server)
    memory: str = MEMORY


def fleet_launch(name: str) -> Launch:
    """A fleet's container: role ``fleet``, label ``org.netlab.fleet=NAME``."""
    return Launch(role="fleet", labels={"fleet": name})


# -- blocking helpers (run in worker threads) ----------------------------------
def _create(place: Placement, argv: Sequence[str], launch: Launch, run_id: str) -> Any:
    """Create the container (not started); the SDK's high level has no ``stdin_once``."""
    client = place.docker
    api = client.api
    network_mode = launch.network_mode or place.network().name
    host_config = api.create_host_config(
        network_mode=network_mode, init=True, cap_drop=["ALL"], cap_add=list(launch.cap_add),
        security_opt=["no-new-privileges:true"], mem_limit=launch.memory,
        memswap_limit=launch.memory,
        ulimits=[docker.types.Ulimit(name="nofile", soft=OPEN_FILES, hard=OPEN_FILES)],
        dns_opt=list(launch.dns_options) or None,
    )
    labels = place.labels(role=launch.role, run=run_id, **dict(launch.labels))
    name = f"netlab-{SESSION_ID}-{launch.role}-{run_id}"
    # stdin_open without detach: Docker closes the program's stdin when the
    # attached client closes its side (StdinOnce).
    networking = None
    if launch.aliases and launch.network_mode is None:
        networking = api.create_networking_config(
            {network_mode: api.create_endpoint_config(aliases=list(launch.aliases))})
    created = api.create_container(
        place.image, command=list(argv[1:]), entrypoint=[argv[0]], stdin_open=True,
        name=name, labels=labels, host_config=host_config, user=launch.user,
        environment=dict(launch.environment) or None, networking_config=networking,
    )
    return client.containers.get(created["Id"])


def _attach(client: Any, container: Any, *, output: bool) -> Any:
    params = {"stdin": 1, "stream": 1}
    if output:
        params.update(stdout=1, stderr=1)
    return client.api.attach_socket(container.id, params=params)


def _raw(sock: Any) -> socket.socket:
    """The socket under the SDK's ``SocketIO`` wrapper (``None`` once that is closed)."""
    raw: socket.socket = getattr(sock, "_sock", sock)
    return raw


def _close_write(sock: Any) -> None:
    with suppress(OSError, AttributeError):
        _raw(sock).shutdown(socket.SHUT_WR)


def _shutdown(sock: Any) -> None:
    """End both directions: a worker thread blocked reading or writing returns at once."""
    with suppress(OSError, AttributeError):
        _raw(sock).shutdown(socket.SHUT_RDWR)


def _close(sock: Any) -> None:
    """Close the socket, once no thread uses it (a closed descriptor's number is reused)."""
    raw = _raw(sock)
    with suppress(OSError):
        sock.close()
    if raw is not None:
        with suppress(OSError):
            raw.close()


def remove_labelled(client: Any, label: str) -> list[str]:
    """Remove (forced, with volumes) every container carrying ``label`` (``KEY=VALUE``)."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": label}):
        with suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed


def _status(result: Mapping[str, Any]) -> int:
    return int(result.get("StatusCode", -1))


def _next_frame(frames: Iterator[tuple[int, bytes]]) -> tuple[int, bytes] | None:
    try:
        return next(frames)
    except (StopIteration, OSError, ValueError):  # ValueError: the socket was closed
        return None


class Program:
    """A running program: its container, its stdout lines, its stdin, its end."""

    def __init__(self, client: Any, container: Any, sock: Any,
                 lines: trio.MemoryReceiveChannel[str]) -> None:
        self.client = client
        self.container = container
        self.name: str = container.name
        self.lines = lines
        self._sock = sock
        self._stderr = bytearray()
        self._pumped = trio.Event()

    async def close_stdin(self) -> None:
        """Send EOF on the program's stdin (a rogue peer stops then)."""
        _close_write(self._sock)

    async def kill(self, signal: str = "SIGKILL") -> None:
        """Signal the program's container (nothing if it has ended)."""
        with suppress(docker.errors.NotFound, docker.errors.APIError):
            await trio.to_thread.run_sync(partial(self.container.kill, signal=signal))

    async def wait(self) -> Exit:
        """Wait for the end; the status and the end of stderr.

        Consume :attr:`lines` meanwhile (or before): unread output holds the program.
        """
        result = await trio.to_thread.run_sync(self.container.wait, abandon_on_cancel=True)
        await self._pumped.wait()
        return Exit(_status(result), self._stderr.decode(errors="replace"))

    async def _feed(self, data: bytes, then_close: bool) -> None:
        if data:
            with suppress(OSError):  # not abandoned on cancel: _shutdown wakes it
                await trio.to_thread.run_sync(_raw(self._sock).sendall, data)
        if then_close:
            _close_write(self._sock)

    async def _pump(self, send: trio.MemorySendChannel[str]) -> None:
        """Copy the attach stream: stdout as lines into ``send``, the end of stderr kept."""
        frames = frames_iter(self._sock, False)
        pending = bytearray()
        reader_gone = False

        async def hand_over(data: bytes) -> None:
            nonlocal reader_gone
            if reader_gone:
                return
            try:
                await send.send(data.decode(errors="replace"))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                reader_gone = True  # nobody reads: keep draining, so the program never blocks

        async with send:
            try:
                # Not abandoned on cancel (the thread must be done before the socket
                # closes): the block's end shuts the socket down, which wakes it.
                while (frame := await trio.to_thread.run_sync(_next_frame, frames)) is not None:
                    stream, data = frame
                    if stream != STDOUT:
                        self._stderr += data
                        del self._stderr[:-STDERR_KEEP]
                        continue
                    pending += data
                    while True:
                        end = pending.find(b"\n", 0, LINE_LIMIT + 1)
                        if end < 0 and len(pending) < LINE_LIMIT:
                            break
                        cut = end if end >= 0 else LINE_LIMIT
                        line = bytes(pending[:cut])
                        del pending[:cut + (1 if end >= 0 else 0)]
                        await hand_over(line)
                if pending:
                    await hand_over(bytes(pending))
            finally:
                self._pumped.set()
                _close(self._sock)


@asynccontextmanager
async def run_program(place: Placement, argv: Sequence[str], *, launch: Launch | None = None,
                      stdin: bytes = b"", hold_stdin: bool = False,
                      buffer: int = LINE_BUFFER) -> AsyncIterator[Program]:
    """Run ``argv`` (``argv[0]`` is the entry point) in a new container for the block.

    ``stdin`` is written to the program; then its stdin is closed, unless
    ``hold_stdin`` (then :meth:`Program.close_stdin` closes it). The
    container is removed when the block ends, whatever happened.
    """
    run_id, launch = uuid.uuid4().hex[:12], launch or Launch()
    send, receive = trio.open_memory_channel[str](buffer)
    body_error: BaseException | None = None
    try:
        container = await trio.to_thread.run_sync(_create, place, argv, launch, run_id)
        sock = await trio.to_thread.run_sync(
            partial(_attach, place.docker, container, output=True))
        try:
            await trio.to_thread.run_sync(container.start)
        except BaseException:
            _close(sock)  # no thread reads it yet
            raise
        program = Program(place.docker, container, sock, receive)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(program._pump, send)  # closes the socket when it ends
            nursery.start_soon(program._feed, stdin, not hold_stdin)
            try:
                yield program
            except BaseException as exc:
                body_error = exc
                raise
            finally:
                _shutdown(sock)
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The block's own error comes out as itself, not wrapped by the pump's nursery.
        if body_error is not None and list(group.exceptions) == [body_error]:
            raise body_error from None
        raise
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
            await trio.to_thread.run_sync(remove_labelled, place.docker,
                                          f"{RUN_LABEL}={run_id}")


async def run_to_end(place: Placement, argv: Sequence[str], *, launch: Launch | None = None,
                     stdin: bytes = b"", timeout: float = 60.0) -> Finished:
    """Run ``argv`` to its end (at most ``timeout`` seconds, then killed); all its output."""
    async with run_program(place, argv, launch=launch, stdin=stdin) as program:
        lines: list[str] = []
        with trio.move_on_after(timeout):
            async for line in program.lines:
                lines.append(line)
            end = await program.wait()
            return Finished(end.status, end.stderr, lines)
        await program.kill()
        end = await program.wait()
        return Finished(end.status, end.stderr + f"\n(killed after {timeout} s)", lines)


@asynccontextmanager
async def run_fleet(place: Placement, name: str, spec_json: str) -> AsyncIterator[Program]:
    """``lab fleet run --spec-file -`` with ``spec_json`` on stdin, as the fleet ``name``."""
    async with run_program(place, ["lab", "fleet", "run", "--spec-file", "-"],
                           launch=fleet_launch(name), stdin=spec_json.encode()) as program:
        yield program


async def start_detached(place: Placement, argv: Sequence[str], *,
                         launch: Launch | None = None) -> Any:
    """Start ``argv`` in a new container left running, its stdin open; the container.

    Find it again by ``launch``'s labels and end it with :func:`finish_detached`.
    If the start fails, the container is removed before the error propagates.
    """
    run_id, launch = uuid.uuid4().hex[:12], launch or Launch()
    try:
        container = await trio.to_thread.run_sync(_create, place, argv, launch, run_id)
        await trio.to_thread.run_sync(container.start)
    except BaseException:
        with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT):
            await trio.to_thread.run_sync(remove_labelled, place.docker,
                                          f"{RUN_LABEL}={run_id}")
        raise
    return container


def _finish(client: Any, container: Any, wait: float) -> Finished:
    try:
        container.reload()
        if container.status == "running":
            sock = _attach(client, container, output=False)
            try:
                _close_write(sock)  # EOF on the program's stdin (StdinOnce)
            finally:
                _close(sock)
        try:
            result = container.wait(timeout=wait)
        except Exception:  # requests' timeout: the program ignored its EOF
            with suppress(docker.errors.APIError):
                container.kill()
            result = container.wait(timeout=CLEANUP_TIMEOUT)
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
        return Finished(_status(result), stderr[-STDERR_KEEP:], stdout.splitlines())
    finally:
        with suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


async def finish_detached(client: Any, container: Any, *, wait: float = STOP_WAIT) -> Finished:
    """Close the program's stdin, wait ``wait`` seconds (then kill), read its output, remove it."""
    return await trio.to_thread.run_sync(_finish, client, container, wait)


def find_labelled(client: Any, labels: Mapping[str, str]) -> list[Any]:
    """Containers (any state) carrying every one of ``labels`` (blocking)."""
    wanted = [f"{key}={value}" for key, value in labels.items()]
    return list(client.containers.list(all=True, filters={"label": wanted}))
