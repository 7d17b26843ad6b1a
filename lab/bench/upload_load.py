"""``lab bench-load upload``: the upload section's load, run in a client container.

Three programs, each printing one JSON object (its last stdout line):

* ``netlab``: ``--files`` uploads of ``--size`` bytes at once, one connection
  each, through netlab's async client library (``open_upload`` + ``put``),
  hashing while sending (``--hash-first``: hashed before, as the client did
  before digests at END). Each upload is verified: the SHA-256 in STORED
  must equal the content's, hashed again here after the clock stopped.
* ``classic``: the tutorial's client: ``NAME|SIZE``, then the bytes in
  ``--chunk``-sized ``sendall`` calls on a blocking socket, then the answer
  (``true``); a thread per file.
* ``iperf3``: ``iperf3 -c HOST -t SECONDS -J`` (one stream), summarized.

Content: a pseudo-random block of :data:`BLOCK` bytes from ``--seed`` (one
seed per file), repeated; nothing is read from disk, and the block's first
byte is not a digit (a classic header glued to it parses exactly). Rates are
``bytes / seconds`` in MB/s (10^6), ``seconds`` from the first byte sent (for
``--hash-first``: from the start of hashing) to the last answer (STORED,
``true``).

Every wait is bounded by ``--timeout``; the program always ends by itself.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import click
import trio

from services.upload.client import open_upload, prepare
from services.upload.events import Stored

BLOCK = 1 << 20
MB = 1e6
IPERF3_ATTEMPTS = 10


def pattern_block(seed: int) -> bytes:
    """The block a file repeats: seeded, its first byte 0xFF (never a digit)."""
    block = bytearray(random.Random(seed).randbytes(BLOCK))
    block[0] = 0xFF
    return bytes(block)


@dataclass(frozen=True)
class Pattern:
    """``size`` bytes of ``block`` repeated: a :class:`~services.upload.source.Reader`."""

    block: bytes
    size: int

    def read_at(self, offset: int, length: int) -> bytes | memoryview:
        length = max(0, min(length, self.size - offset))
        start = offset % len(self.block)
        if start == 0 and length == len(self.block):
            return self.block  # the usual case: whole aligned blocks, no copy
        if start + length <= len(self.block):
            return memoryview(self.block)[start : start + length]
        parts, done = [], 0
        while done < length:
            at = (start + done) % len(self.block)
            piece = self.block[at : at + length - done]
            parts.append(piece)
            done += len(piece)
        return b"".join(parts)

    def chunks(self, chunk: int) -> Any:
        """The content as ``chunk``-sized views (for a blocking client's ``sendall`` loop)."""
        view = memoryview(self.block)
        for offset in range(0, self.size, chunk):
            start = offset % len(self.block)
            length = min(chunk, self.size - offset)
            if start + length <= len(self.block):
                yield view[start : start + length]
            else:
                yield self.read_at(offset, length)

    def sha256(self) -> str:
        hasher = hashlib.sha256()
        for offset in range(0, self.size, len(self.block)):
            hasher.update(self.read_at(offset, len(self.block)))
        return hasher.hexdigest()


def emit(result: dict[str, Any]) -> None:
    """The program's one JSON object, on its own last line."""
    sys.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def rate(total: int, seconds: float) -> float:
    return total / seconds / MB if seconds > 0 else 0.0


# -- netlab mode -----------------------------------------------------------------
async def netlab_uploads(host: str, port: int, *, size: int, files: int, prefix: str,
                         seed: int, hash_first: bool, timeout: float) -> dict[str, Any]:
    """``files`` concurrent verified uploads; the figures as a JSON-ready dict."""
    sources = [Pattern(pattern_block(seed + i), size) for i in range(files)]
    names = [f"{prefix}-{i}.bin" for i in range(files)]
    results: list[Stored | None] = [None] * files
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * files
    start = trio.Event()

    async def one(i: int, task_status: trio.TaskStatus[None]) -> None:
        async with open_upload(host, port, timeout=timeout) as up:
            task_status.started()
            await start.wait()
            began = time.perf_counter()
            item = await prepare(sources[i], name=names[i], hash_first=hash_first)
            results[i] = await up.put(item, overwrite=True)
            spans[i] = (began, time.perf_counter())

    with trio.fail_after(timeout):
        async with trio.open_nursery() as nursery:
            for i in range(files):
                await nursery.start(one, i)
            start.set()
    began = min(s for s, _ in spans)
    seconds = max(e for _, e in spans) - began
    expected = [await trio.to_thread.run_sync(source.sha256) for source in sources]
    verified = all(r is not None and r.sha256 == want and r.size == size
                   for r, want in zip(results, expected, strict=True))
    if not verified:
        raise click.ClickException(f"an upload's SHA-256 differs: {results} vs {expected}")
    return {"mode": "netlab", "files": files, "size": size, "bytes": files * size,
            "seconds": seconds, "mb_per_s": rate(files * size, seconds), "verified": verified,
            "hash_first": hash_first,
            "per_file_seconds": [round(e - s, 4) for s, e in spans]}


# -- classic mode ------------------------------------------------------------------
def classic_upload(host: str, port: int, name: str, source: Pattern, chunk: int,
                   timeout: float, barrier: threading.Barrier) -> tuple[float, float]:
    """One tutorial-client upload; its (start, end) on the perf counter."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        barrier.wait(timeout)
        began = time.perf_counter()
        sock.sendall(f"{name}|{source.size}".encode())
        for piece in source.chunks(chunk):
            sock.sendall(piece)
        answer = sock.recv(1024)
        ended = time.perf_counter()
    if answer != b"true":
        raise RuntimeError(f"{name}: the server answered {answer!r}, not b'true'")
    return began, ended


def classic_uploads(host: str, port: int, *, size: int, files: int, chunk: int, prefix: str,
                    seed: int, timeout: float) -> dict[str, Any]:
    """``files`` tutorial-client uploads at once, a thread each."""
    barrier = threading.Barrier(files)
    spans: list[tuple[float, float] | BaseException] = [(0.0, 0.0)] * files

    def run(i: int) -> None:
        try:
            spans[i] = classic_upload(host, port, f"{prefix}-{i}.bin",
                                      Pattern(pattern_block(seed + i), size), chunk,
                                      timeout, barrier)
        except BaseException as exc:  # reported below, from the main thread
            spans[i] = exc
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(files)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    failed = [s for s in spans if isinstance(s, BaseException)]
    if failed or any(t.is_alive() for t in threads):
        raise click.ClickException(f"classic upload failed: {failed[:1] or 'timed out'}")
    done = [s for s in spans if isinstance(s, tuple)]
    seconds = max(e for _, e in done) - min(s for s, _ in done)
    return {"mode": "classic", "files": files, "size": size, "chunk": chunk,
            "bytes": files * size, "seconds": seconds, "mb_per_s": rate(files * size, seconds)}


# -- iperf3 ------------------------------------------------------------------------
def iperf3_stream(host: str, port: int, seconds: int, timeout: float,
                  attempts: int = IPERF3_ATTEMPTS) -> dict[str, Any]:
    """One ``iperf3`` stream to ``host`` for whole ``seconds`` (iperf3 reads 0.5 as 0:
    forever); the receiver's rate.

    A refused connection is tried again (``attempts`` times, a second apart):
    ``iperf3 -s`` reopens its listener after each client, so a connection
    right after another one (the bench's readiness probe) can be refused.
    """
    for attempt in range(attempts):
        out = subprocess.run(["iperf3", "-c", host, "-p", str(port), "-t", str(seconds), "-J"],
                             capture_output=True, text=True, timeout=timeout, check=False)
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError:
            raise click.ClickException(
                f"iperf3 exited {out.returncode}: {out.stderr[-500:]}") from None
        error = str(report.get("error") or "")
        if "refused" in error and attempt + 1 < attempts:
            time.sleep(1.0)
            continue
        if error or out.returncode:
            raise click.ClickException(f"iperf3: {error or out.stderr[-500:]}")
        received = report["end"]["sum_received"]
        return {"mode": "iperf3", "seconds": received["seconds"], "bytes": received["bytes"],
                "mb_per_s": received["bits_per_second"] / 8 / MB,
                "retransmits": report["end"].get("sum_sent", {}).get("retransmits")}
    raise AssertionError("unreachable: the last attempt returns or raises")


# -- the command ---------------------------------------------------------------------
@click.group("upload")
def cli() -> None:
    """The upload section's load programs (one JSON object on stdout)."""


def _target(command: Any) -> Any:
    command = click.option("--host", required=True)(command)
    command = click.option("--port", type=int, required=True)(command)
    return click.option("--timeout", type=float, default=300.0, show_default=True,
                        help="Bound on the whole load, in seconds.")(command)


def _files(command: Any) -> Any:
    command = click.option("--size", type=int, required=True, help="Bytes per file.")(command)
    command = click.option("--files", type=click.IntRange(min=1), default=1,
                           show_default=True, help="Files at once, a connection each.")(command)
    command = click.option("--prefix", default="bench", show_default=True,
                           help="Files are named PREFIX-I.bin.")(command)
    return click.option("--seed", type=int, default=0, show_default=True)(command)


@cli.command("netlab")
@_target
@_files
@click.option("--hash-first", is_flag=True,
              help="Hash each file before sending (the PUT declares it), as older clients did.")
def netlab_command(host: str, port: int, timeout: float, size: int, files: int, prefix: str,
                   seed: int, hash_first: bool) -> None:
    """Verified netlab-mode uploads through netlab's client library."""
    emit(trio.run(lambda: netlab_uploads(host, port, size=size, files=files, prefix=prefix,
                                         seed=seed, hash_first=hash_first, timeout=timeout)))


@cli.command("classic")
@_target
@_files
@click.option("--chunk", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Bytes per sendall (the tutorial's client: 1024).")
def classic_command(host: str, port: int, timeout: float, size: int, files: int, prefix: str,
                    seed: int, chunk: int) -> None:
    """The tutorial's client protocol: NAME|SIZE, the bytes, then 'true'."""
    emit(classic_uploads(host, port, size=size, files=files, chunk=chunk, prefix=prefix,
                         seed=seed, timeout=timeout))


@cli.command("iperf3")
@_target
@click.option("--seconds", type=click.IntRange(min=1), default=5, show_default=True)
def iperf3_command(host: str, port: int, timeout: float, seconds: int) -> None:
    """One iperf3 stream (the TCP ceiling of the lab network)."""
    emit(iperf3_stream(host, port, seconds, timeout))
