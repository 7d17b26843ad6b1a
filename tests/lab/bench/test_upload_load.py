"""The upload section's load programs and baseline on loopback, with tiny sizes."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import trio

from lab.bench.baselines.tutorial_upload import serve, split_header
from lab.bench.upload import FULL, QUICK, Best, figures, upload_argv
from lab.bench.upload_load import (
    BLOCK,
    Pattern,
    classic_uploads,
    iperf3_stream,
    netlab_uploads,
    pattern_block,
)
from tests.support.ports import free_port
from tests.support.servers import UploadHandle, start_upload

SIZES = [0, 1, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12345]


@dataclass(frozen=True)
class Tutorial:
    port: int
    root: Path


@pytest.fixture
async def netlab_server(nursery: trio.Nursery, tmp_path: Path) -> UploadHandle:
    return await start_upload(nursery, tmp_path / "uploads")


@contextmanager
def tutorial_server(root: Path, read_size: int) -> Iterator[Tutorial]:
    """The tutorial baseline in a thread on a free loopback port; shut down at the end."""
    root.mkdir()
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=serve, args=(listener, root, read_size))
    thread.start()
    try:
        yield Tutorial(listener.getsockname()[1], root)
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_pattern_reads_the_same_bytes_however_it_is_cut(size: int) -> None:
    pattern = Pattern(pattern_block(3), size)
    whole = bytes(pattern.read_at(0, size + 10))
    assert len(whole) == size
    assert b"".join(bytes(c) for c in pattern.chunks(1000)) == whole
    assert bytes(pattern.read_at(size // 3, BLOCK)) == whole[size // 3 : size // 3 + BLOCK]
    assert pattern.sha256() == hashlib.sha256(whole).hexdigest()


def test_a_pattern_never_starts_with_a_digit_and_differs_by_seed() -> None:
    assert pattern_block(0)[:1] == b"\xff"
    assert pattern_block(0) != pattern_block(1)


def test_the_tutorial_header_splits_off_glued_data() -> None:
    assert split_header(b"a.bin|12") == ("a.bin", 12, b"")
    assert split_header(b"../x|3\xffab") == ("x", 3, b"\xffab")
    with pytest.raises(ValueError):
        split_header(b"no header")


@pytest.mark.parametrize(("read_size", "chunk"), [(1024, 1024), (256 * 1024, 256 * 1024)])
def test_classic_load_stores_through_the_tutorial_server(
        tmp_path: Path, read_size: int, chunk: int) -> None:
    with tutorial_server(tmp_path / "root", read_size) as server:
        result = classic_uploads("127.0.0.1", server.port, size=300_000, files=3, chunk=chunk,
                                 prefix="t", seed=5, timeout=30)
    assert (result["bytes"], result["files"]) == (900_000, 3) and result["mb_per_s"] > 0
    for i in range(3):
        expected = Pattern(pattern_block(5 + i), 300_000).read_at(0, 300_000)
        assert (server.root / f"t-{i}.bin").read_bytes() == bytes(expected)


async def test_classic_load_stores_through_netlab_classic_mode(
        netlab_server: UploadHandle) -> None:
    server = netlab_server
    result = await trio.to_thread.run_sync(lambda: classic_uploads(
        "127.0.0.1", server.port, size=2 * BLOCK + 7, files=2, chunk=1024, prefix="c",
        seed=1, timeout=30))
    assert result["bytes"] == 2 * (2 * BLOCK + 7)
    stored = (server.root / "c-1.bin").read_bytes()
    assert stored == bytes(Pattern(pattern_block(2), 2 * BLOCK + 7).read_at(0, 2 * BLOCK + 7))


@pytest.mark.parametrize("hash_first", [False, True])
async def test_netlab_load_uploads_and_verifies(netlab_server: UploadHandle,
                                                hash_first: bool) -> None:
    server = netlab_server
    result = await netlab_uploads("127.0.0.1", server.port, size=BLOCK + 99, files=3,
                                  prefix="n", seed=7, hash_first=hash_first, timeout=30)
    assert result["verified"] and result["bytes"] == 3 * (BLOCK + 99)
    assert len(result["per_file_seconds"]) == 3
    assert sorted(p.name for p in server.root.iterdir() if p.is_file()) == [
        "n-0.bin", "n-1.bin", "n-2.bin"]
    # Run again over the same names: the load overwrites.
    again = await netlab_uploads("127.0.0.1", server.port, size=10, files=1, prefix="n",
                                 seed=7, hash_first=hash_first, timeout=30)
    assert again["verified"]


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="iperf3 is not installed")
async def test_iperf3_load_reports_one_stream(nursery: trio.Nursery) -> None:
    port = free_port()
    # Without -1: the connections that find it listening would each count as its one test.
    process = await nursery.start(partial(
        trio.run_process, ["iperf3", "-s", "-p", str(port)], capture_stdout=True,
        capture_stderr=True, check=False))
    try:  # no readiness probe: a refused first connection is the load's to retry
        result = await trio.to_thread.run_sync(lambda: iperf3_stream("127.0.0.1", port, 1, 30))
    finally:
        process.kill()
    assert result["mode"] == "iperf3" and result["mb_per_s"] > 0 and result["bytes"] > 0


def test_the_section_reports_each_figure_against_its_baselines() -> None:
    best = Best()
    for key, rate in [("iperf3", 2000.0), ("blocking-one", 1000.0), ("blocking-many", 900.0),
                      ("tutorial-1KiB", 150.0), ("blocking-256KiB", 1100.0),
                      ("netlab-one", 600.0), ("netlab-many", 700.0), ("classic-1KiB", 160.0),
                      ("classic-256KiB", 800.0)]:
        best.add(key, {"mb_per_s": rate / 2})
        best.add(key, {"mb_per_s": rate})  # the better round counts
    found = {f.name: f for f in figures(FULL, best)}
    assert set(found) == {"netlab-1GiB", "netlab-8x128MiB", "classic-1KiB", "classic-256KiB"}
    assert found["netlab-1GiB"].ratio("iperf3") == pytest.approx(0.3)
    assert found["netlab-1GiB"].ratio("blocking-256KiB") == pytest.approx(0.6)
    assert found["classic-1KiB"].baselines == {"tutorial-1KiB": 150.0}
    assert all(f.goal and f.higher_is_better and f.unit == "MB/s" for f in found.values())
    assert {f.name for f in figures(QUICK, best)} == {
        "netlab-48MiB", "netlab-4x8MiB", "classic-1KiB", "classic-256KiB"}


def test_load_argv_names_the_section_program() -> None:
    argv = upload_argv("classic", "h", 1, size=5, prefix="p", timeout=9, extra=["--chunk", "1"])
    assert argv[:4] == ["lab", "bench-load", "upload", "classic"]
    assert argv[-2:] == ["--chunk", "1"]
