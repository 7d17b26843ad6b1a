"""tcpdump in a short-lived sidecar sharing a service container's network namespace.

``async with capturing(place, container, spec, output) as capture:`` starts
a container of the netlab image (labelled, removed at the end whatever
happens: :func:`lab.containers.run_program`) in ``container``'s network
namespace (``--network container:ID``), as root with only the
capabilities tcpdump needs (``NET_RAW``, ``NET_ADMIN``; ``SETUID`` and
``SETGID`` for its ``-Z root``), and enters the block once tcpdump
listens. With no ``container``, the sidecar's own namespace (loopback
only) is the one captured, and a container started in the block joins it
(``lab check --capture``). tcpdump stops by itself: after ``spec.seconds`` (``timeout``
sends it SIGINT) or ``spec.packets`` packets, whichever comes first;
:meth:`Capture.stop` stops it at once. Leaving the block waits for that
end (at most ``spec.seconds`` + :data:`GRACE`, then the sidecar is killed),
copies the pcap out of the container (``docker cp``'s archive) into
``output``, written by this process so that it belongs to whoever ran
``lab capture``, and sets :attr:`Capture.result`.

The service itself keeps every capability dropped: only the sidecar can
capture, and only for as long as it lives. tcpdump writes to its stdout,
redirected to a file by the sidecar's shell, so it never needs to change
the file's owner.

Error handling: a tcpdump that does not start listening, or exits with a
failure, raises :class:`lab.errors.CaptureError` with its output.
"""

from __future__ import annotations

import re
import shlex
import tarfile
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from lab.containers import Launch, Placement, Program, run_program
from lab.errors import CaptureError
from lab.labels import labels as lab_labels

SERVICE_PORT = 8000
PCAP = "/tmp/netlab-capture.pcap"
START_TIMEOUT = 30.0  # until tcpdump listens (the container starts first)
GRACE = 30.0  # past spec.seconds before the sidecar is killed
MAX_SECONDS = 600.0
MAX_PACKETS = 100_000
MAX_SNAPLEN = 65_535
LISTENING = "listening on"
COUNTS = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)")


@dataclass(frozen=True)
class CaptureSpec:
    """What to capture and when to stop: bounded in time, packets and bytes per packet."""

    seconds: float = 10.0
    packets: int = 10_000
    snaplen: int = 1024  # bytes kept of each packet (the headers and the start of the data)
    port: int = SERVICE_PORT
    filter: str | None = None  # a pcap filter expression; default ``tcp port PORT``
    interface: str = "any"

    def __post_init__(self) -> None:
        if not 0 < self.seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be in (0, {MAX_SECONDS:g}]")
        if not 0 < self.packets <= MAX_PACKETS:
            raise ValueError(f"packets must be in [1, {MAX_PACKETS}]")
        if not 64 <= self.snaplen <= MAX_SNAPLEN:
            raise ValueError(f"snaplen must be in [64, {MAX_SNAPLEN}]")
        if not 1 <= self.port <= 65535:
            raise ValueError("port out of range")

    @property
    def expression(self) -> str:
        return self.filter or f"tcp port {self.port}"

    def script(self) -> str:
        """The sidecar's shell line: tcpdump under ``timeout``, pcap to :data:`PCAP`.

        ``exec`` leaves no shell in between: the container's init forwards a
        SIGINT to ``timeout``, which forwards it to tcpdump (same uid: ``-Z
        root``). tcpdump's messages go to the sidecar's stdout (``2>&1``
        comes first), the pcap to the file.
        """
        tcpdump = ["tcpdump", "-Z", "root", "-i", self.interface, "-n", "-U",
                   "-s", str(self.snaplen), "-c", str(self.packets), "-w", "-", self.expression]
        timeout = ["timeout", "--preserve-status", "-s", "INT", f"{self.seconds:g}"]
        return f"exec {shlex.join(timeout + tcpdump)} 2>&1 >{PCAP}"


def capture_launch(container: Any | None) -> Launch:
    """Root with the capture capabilities only, in ``container``'s network namespace (``None``:
    a namespace of its own with only a loopback, which other containers may join)."""
    network = f"container:{container.id}" if container is not None else "none"
    return Launch(role="capture", network_mode=network, user="0",
                  cap_add=("NET_RAW", "NET_ADMIN", "SETUID", "SETGID"))


@dataclass(frozen=True)
class Host:
    """Where a capture runs outside a lab: a Docker client and the image, no lab network."""

    docker: Any
    image: str

    def network(self) -> Any:
        raise CaptureError("no lab network: a capture of its own namespace needs none")

    def labels(self, **extra: str) -> dict[str, str]:
        return lab_labels(**extra)


@dataclass(frozen=True)
class CaptureRun:
    """A finished capture: where the pcap is, tcpdump's counts and its messages."""

    output: Path
    captured: int | None
    dropped: int | None
    messages: tuple[str, ...]


def tcpdump_counts(lines: list[str]) -> dict[str, int]:
    """tcpdump's closing counts (``captured``, ``received by filter``, ``dropped by kernel``)."""
    counts = {}
    for line in lines:
        if found := COUNTS.match(line.strip()):
            counts[found.group(2)] = int(found.group(1))
    return counts


class Capture:
    """A running capture: stop it early with :meth:`stop`; :attr:`result` once it ended."""

    def __init__(self, program: Program, container: Any, spec: CaptureSpec) -> None:
        self.program = program
        self.container = container
        self.spec = spec
        self.lines: list[str] = []
        self.result: CaptureRun | None = None

    async def stop(self) -> None:
        """SIGINT to tcpdump (through the sidecar's init and ``timeout``): it ends cleanly."""
        await self.program.kill("SIGINT")

    async def _until_listening(self) -> None:
        with trio.move_on_after(START_TIMEOUT):
            async for line in self.program.lines:
                self.lines.append(line)
                if LISTENING in line:
                    return
        end = await self._end(kill=True)
        raise CaptureError(f"tcpdump did not start listening in {self.container.name} "
                           f"(status {end}): {self._output()}")

    async def _drain(self) -> int:
        """Read to the end (bounded); tcpdump's exit status."""
        with trio.move_on_after(self.spec.seconds + GRACE) as scope:
            async for line in self.program.lines:
                self.lines.append(line)
        return await self._end(kill=scope.cancelled_caught)

    async def _end(self, *, kill: bool) -> int:
        if kill:
            await self.program.kill()
        return (await self.program.wait()).status

    def _output(self) -> str:
        return " | ".join(line.strip() for line in self.lines if line.strip())[-800:]


def _copy_out(container: Any, output: Path) -> None:
    """Copy :data:`PCAP` from the (stopped) sidecar to ``output`` (blocking)."""
    stream, _ = container.get_archive(PCAP)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as archive:
        for chunk in stream:
            archive.write(chunk)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            member = tar.next()
            source = tar.extractfile(member) if member is not None else None
            if source is None:
                raise CaptureError(f"no pcap in {container.name}")
            partial = output.with_name(output.name + ".part")
            with source, partial.open("wb") as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
            partial.replace(output)


@asynccontextmanager
async def capturing(place: Placement, container: Any | None, spec: CaptureSpec,
                    output: Path) -> AsyncIterator[Capture]:
    """tcpdump in ``container``'s network namespace from the block's start until it stops.

    ``container`` ``None``: the sidecar has a network namespace of its own
    (loopback only) that a container started in the block joins with
    ``network_mode="container:" + capture.program.container.id``; so the
    capture listens before the first packet of that container.
    """
    argv = ["sh", "-c", spec.script()]
    async with run_program(place, argv, launch=capture_launch(container)) as program:
        capture = Capture(program, container or program.container, spec)
        await capture._until_listening()
        yield capture
        status = await capture._drain()
        if status != 0:
            raise CaptureError(f"tcpdump in {capture.container.name} failed (status {status}): "
                               f"{capture._output()}")
        await trio.to_thread.run_sync(_copy_out, program.container, output)
        counts = tcpdump_counts(capture.lines)
        capture.result = CaptureRun(output, counts.get("captured"),
                                    counts.get("dropped by kernel"), tuple(capture.lines))
