"""Upload fleets against a real upload server: files stored whole, resumed after a cut."""

from __future__ import annotations

import hashlib
from pathlib import Path

import trio

from lab.fleet.spec import FleetSpec, UploadSpec
from lab.fleet.upload import PacedStream, file_content, file_name
from tests.lab.fleet.conftest import RunFleet
from tests.support.cutproxy import CutProxy
from tests.support.servers import start_upload


def upload_fleet(port: int, **overrides: object) -> FleetSpec:
    fields = {"clients": 2, "files": 2, "sizes": (0, 1000, 200000), "host": "127.0.0.1",
              "port": port, **overrides}
    return FleetSpec(name="t", seed=3, deadline=30.0, upload=UploadSpec(**fields))  # type: ignore[arg-type]


def test_the_seed_fixes_names_and_content() -> None:
    name = file_name("t", 1, 0, 3)
    assert name == "t-upload1-0-s3.bin"
    assert file_content(3, name, 100) == file_content(3, name, 100)
    assert file_content(3, name, 100) != file_content(4, name, 100)


async def test_every_file_is_stored_whole_under_its_name(
        nursery: trio.Nursery, run: RunFleet, tmp_path: Path) -> None:
    server = await start_upload(nursery, tmp_path / "up")
    history = await run(upload_fleet(server.port))
    puts = history.select(f="put", type="invoke")
    assert sorted(op.value["op"] for op in puts) == [
        "t.upload-0/0", "t.upload-0/1", "t.upload-1/0", "t.upload-1/1"]
    assert sorted(op.value["size"] for op in puts) == [0, 0, 1000, 200000]
    stored = {op.value["name"]: op.value["sha256"] for op in history.select(f="put", type="ok")}
    assert stored == {op.value["name"]: op.value["sha256"] for op in puts}
    for name, digest in stored.items():
        assert hashlib.sha256((server.root / name).read_bytes()).hexdigest() == digest
    big = next(op.value["op"] for op in puts if op.value["size"] == 200000)
    offsets = [op.value["offset"] for op in history.select(f="progress")
               if op.value["op"] == big]
    assert offsets[0] == 0 and offsets[-1] == 200000 and 8 <= len(offsets) <= 12
    assert [op.f for op in history.of("t.upload-0")][-1] == "close"


async def test_a_cut_upload_resumes_from_the_servers_offset(
        nursery: trio.Nursery, run: RunFleet, tmp_path: Path) -> None:
    server = await start_upload(nursery, tmp_path / "up")
    proxy = CutProxy(server.port, budget=150_000)
    port = await nursery.start(proxy.run)
    history = await run(upload_fleet(port, clients=1, files=1, sizes=(400_000,)))
    ops = [(op.type, op.f) for op in history]
    assert ("info", "put") in ops and ("info", "disconnected") in ops
    assert ops[-2:] == [("ok", "put"), ("ok", "close")]
    resumed_at = ops.index(("invoke", "resume"))
    first_progress = next(op for op in history.ops[resumed_at:] if op.f == "progress")
    assert 0 < first_progress.value["offset"] <= 150_000
    name = file_name("t", 0, 0, 3)
    assert (server.root / name).read_bytes() == file_content(3, name, 400_000)


async def test_a_paced_stream_keeps_to_its_rate() -> None:
    left, right = trio.testing.memory_stream_pair()
    paced = PacedStream(left, rate=20_000)
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(paced.send_all, b"x" * 5000)
        got = 0
        while got < 5000:
            got += len(await right.receive_some())
    assert 0.2 <= trio.current_time() - start < 1.5
