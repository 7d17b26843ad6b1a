"""The client library's resume across broken connections, and the netlab upload commands."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from services.upload import cli as cli_module
from services.upload.cli import cli
from services.upload.client import ConnectionLost, get_resuming, put_resuming
from tests.support.cutproxy import CutProxy
from tests.support.servers import StartUpload
from tests.support.storage import partials, sha256


async def test_put_resumes_after_the_connection_is_cut(
    start_server: StartUpload, nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_server()
    proxy = CutProxy(server.port, budget=700_000)
    proxy_port = await nursery.start(proxy.run)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(2_000_000))
    stored = await put_resuming("127.0.0.1", proxy_port, source, retries=2, backoff=0.01)
    assert stored.sha256 == sha256(source.read_bytes())
    assert (server.root / "big.bin").read_bytes() == source.read_bytes()
    assert proxy.connections == 2
    assert server.counters.extra["resumes"] == 1
    # What the cut connection delivered was not sent again: ~2 MB in all, not 2.7 MB.
    assert server.counters.bytes_in < 2_000_000 + 10_000
    assert partials(server.root) == []


async def test_put_gives_up_after_its_retries(
    start_server: StartUpload, nursery: trio.Nursery
) -> None:
    server = await start_server()
    proxy_port = await nursery.start(CutProxy(server.port, budget=200_000, cuts=10).run)
    with pytest.raises(ConnectionLost):
        await put_resuming("127.0.0.1", proxy_port, os.urandom(1_000_000), name="x",
                           retries=1, backoff=0.01)
    assert server.counters.extra["resumes"] == 1  # the one retry resumed, then was cut too
    assert len(partials(server.root)) == 1


async def test_get_resumes_after_the_connection_is_cut(
    start_server: StartUpload, nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_server()
    data = os.urandom(3_000_000)
    (server.root / "d.bin").write_bytes(data)
    proxy = CutProxy(server.port, budget=1_000_000, upstream=False)
    proxy_port = await nursery.start(proxy.run)
    info = await get_resuming("127.0.0.1", proxy_port, "d.bin", tmp_path / "d.bin",
                              retries=2, backoff=0.01)
    assert info.sha256 == sha256(data)
    assert (tmp_path / "d.bin").read_bytes() == data
    assert proxy.connections == 2


async def test_client_commands_against_a_server(
    start_server: StartUpload, tmp_path: Path
) -> None:
    server = await start_server()
    port = str(server.port)
    source = tmp_path / "notes.txt"
    source.write_text("lab notes\n")
    digest = sha256(b"lab notes\n")
    runner = CliRunner()

    async def invoke(*args: str) -> Any:
        return await trio.to_thread.run_sync(lambda: runner.invoke(cli, [*args, "--port", port]))

    put = await invoke("put", str(source))
    assert put.exit_code == 0, put.output
    assert put.output.startswith(f"stored notes.txt 10 bytes sha256={digest}")
    again = await invoke("put", str(source))
    assert again.exit_code == 1 and "refused (exists)" in again.output
    assert "netlab upload put --overwrite" in again.output  # says how, not "ask for overwrite"
    listing = await invoke("list")
    assert listing.output.rstrip().endswith("notes.txt")
    stat = await invoke("stat", "notes.txt")
    assert f"sha256: {digest}" in stat.output
    dest = tmp_path / "copy.txt"
    got = await invoke("get", "notes.txt", "-o", str(dest))
    assert got.exit_code == 0 and dest.read_text() == "lab notes\n"
    missing = await invoke("stat", "nope")
    assert missing.exit_code == 1 and "not-found" in missing.output


def test_progress_bar_is_silent_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with cli_module.progress_bar("put x") as update:
        update(5, 10)
    assert capsys.readouterr().err == ""


async def test_get_starts_over_when_a_stale_part_fails_verification(
    start_server: StartUpload, tmp_path: Path
) -> None:
    server = await start_server()
    data = os.urandom(200_000)
    (server.root / "d.bin").write_bytes(data)
    (tmp_path / "d.bin.part").write_bytes(b"\x00" * 50_000)  # from some other file
    info = await get_resuming("127.0.0.1", server.port, "d.bin", tmp_path / "d.bin",
                              retries=1, backoff=0.01)
    assert info.sha256 == sha256(data)
    assert (tmp_path / "d.bin").read_bytes() == data
    assert server.counters.extra["downloads"] == 2
