"""The tutorial's upload client, byte for byte, against the lab's server.

The client below is the tutorial's: a blocking stdlib socket, ``NAME|SIZE``
with ``sendall``, the file in 1024-byte ``sendall`` calls, then one ``recv``
for ``true``. It runs in a worker thread so the server's event loop goes on.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest
import trio

from services.upload.client import open_upload
from services.upload.partial import PartialFile
from tests.support.servers import LOGGER, StartUpload
from tests.support.storage import partials, sha256, stored_names
from tests.support.waiting import wait_for


def tutorial_upload(
    port: int, files: list[tuple[str, bytes]], *, glued: bool = False
) -> list[bytes]:
    """Upload ``files`` on one connection; returns each reply."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for name, data in files:
            header = f"{name}|{len(data)}".encode()
            if glued:  # header and the first data in one segment
                sock.sendall(header + data[:1024])
                rest = data[1024:]
            else:
                sock.sendall(header)
                rest = data
            for start in range(0, len(rest), 1024):
                sock.sendall(rest[start : start + 1024])
            replies.append(sock.recv(1024))
    return replies


async def test_tutorial_client_stores_a_file(start_server: StartUpload) -> None:
    server = await start_server()
    # Not a digit first: on a loaded machine the header's delayed ACK may fire before the
    # server reads it, and a glued digit would be read as part of SIZE
    # (docs/reference/protocol/classic.md).
    data = b"p" + os.urandom(50_000)
    replies = await trio.to_thread.run_sync(tutorial_upload, server.port, [("photo.jpg", data)])
    assert replies == [b"true"]
    assert (server.root / "photo.jpg").read_bytes() == data
    assert server.counters.extra["classic_files_stored"] == 1


async def test_a_classic_file_is_hashed_only_when_first_asked_for(
        start_server: StartUpload, tmp_path: Path) -> None:
    server = await start_server()
    data = b"c" + os.urandom(300_000)  # not a digit first: a glued header parses right
    await trio.to_thread.run_sync(tutorial_upload, server.port, [("c.bin", data)])
    assert "c.bin" not in server.server.store._hashes  # stored without a hash pass
    async with open_upload("127.0.0.1", server.port) as up:
        info = await up.stat("c.bin")
        got = await up.get("c.bin", tmp_path / "c.bin")
    assert info.sha256 == got.sha256 == sha256(data)
    assert (tmp_path / "c.bin").read_bytes() == data


async def test_header_and_data_in_one_segment(start_server: StartUpload) -> None:
    server = await start_server()
    data = b"glued: " + os.urandom(5000)
    replies = await trio.to_thread.run_sync(
        lambda: tutorial_upload(server.port, [("glued.bin", data)], glued=True)
    )
    assert replies == [b"true"]
    assert (server.root / "glued.bin").read_bytes() == data


async def test_several_files_on_one_connection(start_server: StartUpload) -> None:
    server = await start_server()
    files = [(f"f{i}.txt", f"file {i} ".encode() * (i * 300)) for i in range(4)]
    replies = await trio.to_thread.run_sync(tutorial_upload, server.port, files)
    assert replies == [b"true"] * 4
    for name, data in files:
        assert (server.root / name).read_bytes() == data


async def test_escaping_name_is_refused_with_false_and_the_connection_goes_on(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    files = [("../escape.txt", b"evil"), ("ok.txt", b"fine")]
    replies = await trio.to_thread.run_sync(tutorial_upload, server.port, files)
    assert replies == [b"false", b"true"]
    assert stored_names(server.root) == ["ok.txt"]
    assert not (server.root.parent / "escape.txt").exists()


async def test_same_name_twice_replaces_it_as_the_tutorials_server_does(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    replies = await trio.to_thread.run_sync(
        tutorial_upload, server.port, [("a.txt", b"one"), ("a.txt", b"second")]
    )
    assert replies == [b"true", b"true"]
    assert (server.root / "a.txt").read_bytes() == b"second"
    assert stored_names(server.root) == ["a.txt"]
    assert partials(server.root) == []


async def test_same_name_twice_on_two_connections_replaces_it(start_server: StartUpload) -> None:
    server = await start_server(overwrite="never")  # netlab's policy does not apply to classic
    for data in (b"one", b"two"):
        replies = await trio.to_thread.run_sync(tutorial_upload, server.port, [("a.txt", data)])
        assert replies == [b"true"]
    assert (server.root / "a.txt").read_bytes() == b"two"
    assert partials(server.root) == []


async def test_without_classic_overwrite_the_second_gets_false_and_the_log_says_why(
    start_server: StartUpload, caplog: pytest.LogCaptureFixture
) -> None:
    server = await start_server(classic_overwrite=False, overwrite="always")
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        replies = await trio.to_thread.run_sync(
            tutorial_upload, server.port, [("a.txt", b"one"), ("a.txt", b"two")]
        )
    assert replies == [b"true", b"false"]
    assert (server.root / "a.txt").read_bytes() == b"one"
    assert server.counters.extra["classic_refused_exists"] == 1
    refusal = next(r.getMessage() for r in caplog.records if "event=refused" in r.getMessage())
    assert "code=exists" in refusal and "reply=false" in refusal
    assert "--classic-overwrite" in refusal


async def test_oversized_upload_gets_false_and_close(start_server: StartUpload) -> None:
    server = await start_server(max_file_size=1000)

    def oversized() -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"big.bin|5000")
            return sock.recv(1024)

    assert await trio.to_thread.run_sync(oversized) == b"false"
    await wait_for(lambda: server.counters.connections_open == 0)
    assert stored_names(server.root) == []


async def test_disconnect_mid_file_leaves_nothing(start_server: StartUpload) -> None:
    server = await start_server()

    def cut() -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"cut.bin|10000")
            sock.sendall(b"x" * 4000)

    await trio.to_thread.run_sync(cut)
    await wait_for(lambda: server.counters.connections_open == 0)
    assert stored_names(server.root) == []
    assert partials(server.root) == []  # classic uploads cannot resume: nothing kept


async def test_malformed_header_closes_the_connection(start_server: StartUpload) -> None:
    server = await start_server()

    def malformed() -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"no-size-here|abc")
            return sock.recv(1024)

    assert await trio.to_thread.run_sync(malformed) == b""
    assert server.counters.errors_by_reason["bad-message"] == 1


async def test_shutdown_cuts_a_stalled_classic_upload_and_keeps_nothing(
    start_server: StartUpload,
) -> None:
    server = await start_server(grace_period=0.3)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"half.bin|10000" + b"x" * 5000)
        await wait_for(lambda: server.counters.bytes_in >= 5014)
        server.lifecycle.request_shutdown("test")
        with trio.fail_after(5):
            await server.lifecycle.stopped.wait()
    assert stored_names(server.root) == []
    assert partials(server.root) == []


async def test_nothing_is_under_the_final_name_while_a_classic_upload_is_in_flight(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    data = b"x" + os.urandom(99_999)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"photo.jpg|{len(data)}".encode())
        sock.sendall(data[:40_000])
        # The upload has begun once its file exists somewhere under the root.
        await wait_for(lambda: bool(partials(server.root) or stored_names(server.root)))
        assert stored_names(server.root) == []  # staged, not yet under its name
        sock.sendall(data[40_000:])
        assert await trio.to_thread.run_sync(sock.recv, 16) == b"true"
    assert (server.root / "photo.jpg").read_bytes() == data


async def test_true_comes_only_once_the_file_is_committed(
    start_server: StartUpload, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server()
    entered, release = trio.Event(), trio.Event()
    commit = PartialFile.commit

    def held_commit(self: PartialFile) -> str:  # runs in a worker thread
        trio.from_thread.run_sync(entered.set)
        trio.from_thread.run(release.wait)
        return commit(self)

    monkeypatch.setattr(PartialFile, "commit", held_commit)
    data = b"x" + os.urandom(4999)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"held.bin|{len(data)}".encode())
        sock.sendall(data)
        with trio.fail_after(5):
            await entered.wait()
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):  # no reply while the commit is held
            sock.recv(16)
        sock.settimeout(10)
        release.set()
        assert await trio.to_thread.run_sync(sock.recv, 16) == b"true"
        # The reply came after the commit: the file is under its name, whole.
        assert (server.root / "held.bin").read_bytes() == data
