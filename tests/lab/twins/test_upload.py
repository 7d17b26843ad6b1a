"""The upload twin stores small uploads, and leaves a cut one partial under its final name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import trio

from lab.proxy.toxics import LimitData
from lab.twins.upload import NO_RESUME, UploadTwin
from services.upload.client import (
    ConnectionLost,
    Prepared,
    UploadRefused,
    open_upload,
    prepare,
)
from tests.lab.twins.conftest import HOST, start_proxy
from tests.support.servers import start_upload
from tests.support.waiting import receive_exactly, wait_for

DATA = bytes(range(256)) * 4000  # 1,024,000 bytes
CUT = LimitData(name="cut", stream="upstream", bytes=300_000)


async def put_through_cut(nursery: trio.Nursery, port: int) -> Prepared:
    """Upload DATA as ``big.bin`` through a proxy that cuts it after 300 kB; what was put."""
    proxy = await start_proxy(nursery, port)
    assert proxy.port is not None
    proxy.add_toxic(CUT)
    item = await prepare(DATA, name="big.bin")
    with pytest.raises(ConnectionLost):
        async with open_upload(HOST, proxy.port) as up:
            await up.put(item)
    return item


async def test_a_small_upload_is_stored(upload_twin: UploadTwin) -> None:
    async with open_upload(HOST, upload_twin.port) as up:
        stored = await up.put(b"hello twin", name="small.bin")
        listed = await up.list()
        info = await up.stat("small.bin")
    assert (stored.name, stored.size) == ("small.bin", 10)
    assert (upload_twin.root / "small.bin").read_bytes() == b"hello twin"
    assert [f.name for f in listed] == ["small.bin"]
    assert info.sha256 == hashlib.sha256(b"hello twin").hexdigest()


async def test_an_upload_cut_midway_leaves_a_partial_file_under_its_name(
    upload_twin: UploadTwin, nursery: trio.Nursery,
) -> None:
    await put_through_cut(nursery, upload_twin.port)
    await wait_for(lambda: upload_twin.ended >= 1)
    size = (upload_twin.root / "big.bin").stat().st_size
    assert 0 < size < len(DATA)


async def test_a_resume_after_the_cut_is_refused_and_the_partial_stays(
    upload_twin: UploadTwin, nursery: trio.Nursery,
) -> None:
    item = await put_through_cut(nursery, upload_twin.port)
    await wait_for(lambda: upload_twin.ended >= 1)
    partial = (upload_twin.root / "big.bin").stat().st_size
    assert 0 < partial < len(DATA)
    async with open_upload(HOST, upload_twin.port) as up:
        with pytest.raises(UploadRefused) as refused:
            await up.put(item)  # carries the resume token of the first READY
    assert refused.value.code == NO_RESUME
    assert (upload_twin.root / "big.bin").stat().st_size == partial


async def test_netlab_s_upload_server_leaves_nothing_under_the_name_after_the_same_cut(
    nursery: trio.Nursery, tmp_path: Path,
) -> None:
    server = await start_upload(nursery, tmp_path / "netlab")
    await put_through_cut(nursery, server.port)
    await trio.sleep(0.2)
    assert not (server.root / "big.bin").exists()


async def test_the_tutorial_s_client_gets_true(upload_twin: UploadTwin) -> None:
    async with await trio.open_tcp_stream(HOST, upload_twin.port) as conn:
        await conn.send_all(b"notes.txt|5")
        await trio.sleep(0.05)  # the tutorial's header travels alone
        await conn.send_all(b"hello")
        assert await receive_exactly(conn, 4) == b"true"
    assert (upload_twin.root / "notes.txt").read_bytes() == b"hello"
