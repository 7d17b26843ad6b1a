"""The upload server against hostile or careless peers: memory, disk, links, resume, slots.

The handshake and rate tests run on trio's MockClock (``server_clock``): the
clients' pauses of many seconds take no real time, and the times asserted are exact.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import trio

from services.upload.client import UploadRefused, open_upload
from services.upload.codec import decode_payload
from services.upload.config import UploadConfig
from services.upload.events import (
    Data,
    End,
    Error,
    Get,
    ListFiles,
    Listing,
    Put,
    Ready,
    Stat,
    Stored,
)
from services.upload.pace import UploadPace
from services.upload.partial import PartialFile
from services.upload.protocol import Role, UploadConnection
from services.upload.storage import PARTIAL_DIR
from services.wire.preface import encode_preface
from tests.support.peers import HOST, FramePeer, send_upload
from tests.support.servers import StartUpload
from tests.support.storage import partials, sha256, stored_names
from tests.support.waiting import wait_for

MiB = 1 << 20


async def stalled_download(port: int, name: str) -> trio.SocketStream:
    """A client that asks for ``name`` and then never reads (a tiny receive window)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    await stream.send_all(encode_preface("upload") + UploadConnection(Role.CLIENT).send(Get(name)))
    return stream


# -- point 3: memory ------------------------------------------------------------


async def test_stalled_downloads_hold_a_bounded_number_of_bytes(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    data = os.urandom(8 * MiB)
    (server.root / "big.bin").write_bytes(data)
    clients = [await stalled_download(server.port, "big.bin") for _ in range(20)]
    config = server.config
    # Every download has filled its queue: the server holds what it will hold.
    full = len(clients) * config.queue_size * config.download_chunk
    await wait_for(lambda: server.counters.extra["transfer_buffered_bytes"] >= full, 10)
    peak = server.counters.extra["transfer_buffered_bytes_peak"]
    assert peak <= len(clients) * config.download_reservation  # about 1 MiB each
    assert config.download_reservation <= 1100 * 1024
    for client in clients:
        await client.aclose()
    await wait_for(lambda: server.counters.connections_open == 0, 15)
    assert server.counters.extra["transfer_buffered_bytes"] == 0


async def test_a_download_past_the_memory_budget_waits_then_is_busy(
    start_server: StartUpload, tmp_path: Path
) -> None:
    reservation = UploadConfig().download_reservation
    server = await start_server(transfer_memory=2 * reservation, memory_wait=0.3)
    (server.root / "big.bin").write_bytes(os.urandom(8 * MiB))
    stalled = [await stalled_download(server.port, "big.bin") for _ in range(2)]
    await wait_for(lambda: server.server.ctx.memory.reserved == 2 * reservation)
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.get("big.bin", tmp_path / "copy.bin")
        assert info.value.code == "busy"
    assert server.counters.extra["downloads_refused_busy"] == 1
    await stalled[0].aclose()  # its reservation comes back
    async with open_upload("127.0.0.1", server.port) as up:
        got = await up.get("big.bin", tmp_path / "copy.bin")
    assert got.size == 8 * MiB
    await stalled[1].aclose()


# -- point 6: disk ----------------------------------------------------------------


async def test_default_quota_is_one_gib(start_server: StartUpload) -> None:
    server = await start_server()
    assert server.config.quota == 1 << 30
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up._send(Put("huge.bin", (1 << 30) + 1, sha256(b"x")))
            await up._next()
        assert info.value.code == "quota-exceeded"


async def test_a_full_disk_deletes_the_partial_and_the_next_upload_works(
    start_server: StartUpload, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server()
    write_batch = PartialFile.write_batch
    failures = []

    def full_disk(self: PartialFile, chunks: list[bytes | memoryview]) -> None:
        if not failures:
            failures.append(1)
            raise OSError(errno.ENOSPC, "No space left on device")
        write_batch(self, chunks)

    monkeypatch.setattr(PartialFile, "write_batch", full_disk)
    data = os.urandom(5 * MiB)
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.put(data, name="big.bin")
        assert info.value.code == "no-space"
    await wait_for(lambda: server.counters.connections_open == 0)
    assert partials(server.root) == []  # not kept 24 h
    assert server.counters.extra["partials_removed_disk_full"] == 1
    assert server.counters.errors_by_reason["no-space"] == 1
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(data, name="big.bin")
    assert stored.sha256 == sha256(data)


async def test_an_upload_the_free_space_cannot_hold_is_refused_before_data(
    start_server: StartUpload, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await start_server(min_free_space=1000)
    monkeypatch.setattr(os, "statvfs", lambda _: SimpleNamespace(f_bavail=5, f_frsize=1024))
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.put(b"x" * 5000, name="big.bin")
        assert info.value.code == "no-space"
        await up.put(b"x" * 4000, name="small.bin")  # the connection stays usable
    assert server.counters.extra["uploads_refused"] == 1
    assert stored_names(server.root) == ["small.bin"]


# -- point 9: links ---------------------------------------------------------------


async def test_a_symlinked_staging_folder_is_replaced_and_its_target_untouched(
    start_server: StartUpload, tmp_path: Path
) -> None:
    root = tmp_path / "uploads"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    old = time.time() - 3 * 24 * 3600
    for name in ("victim.part", "notes.txt"):
        (elsewhere / name).write_text("precious")
        os.utime(elsewhere / name, (old, old))
    (root / PARTIAL_DIR).symlink_to(elsewhere)
    server = await start_server(root=root)
    await server.server.store.expire_partials()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt", "victim.part"]
    assert not (root / PARTIAL_DIR).is_symlink() and (root / PARTIAL_DIR).is_dir()
    assert server.counters.errors_by_reason["staging-replaced"] == 1
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(b"abc", name="abc")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["notes.txt", "victim.part"]


async def test_the_sweep_deletes_only_regular_partial_files(
    start_server: StartUpload, tmp_path: Path
) -> None:
    server = await start_server(partial_ttl=60)
    staging = server.root / PARTIAL_DIR
    target = tmp_path / "target.part"
    target.write_text("not ours")
    old = time.time() - 3600
    (staging / "old.part").write_text("expired")
    (staging / "link.part").symlink_to(target)
    (staging / "other.txt").write_text("foreign")
    for name in ("old.part", "other.txt"):
        os.utime(staging / name, (old, old))
    os.utime(staging / "link.part", (old, old), follow_symlinks=False)
    await server.server.store.expire_partials()  # the start-up sweep may have run first
    assert sorted(p.name for p in staging.iterdir()) == ["link.part", "other.txt"]
    assert target.read_text() == "not ours"


# -- point 11: resume token --------------------------------------------------------


async def test_resume_needs_the_token_of_the_first_ready(start_server: StartUpload) -> None:
    server = await start_server()
    data = os.urandom(300_000)
    owner = await FramePeer.upload(server.port)
    await owner.send(Put("mine.bin", len(data), sha256(data)))
    ready = await owner.next()
    assert isinstance(ready, Ready) and len(ready.resume) == 32
    await send_upload(owner, data, cut=100_000)
    await owner.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)

    stranger = await FramePeer.upload(server.port)
    await stranger.send(Put("mine.bin", len(data), sha256(data)))  # knows all but the token
    other = await stranger.next()
    assert isinstance(other, Ready) and other.offset == 0 and other.resume != ready.resume
    await send_upload(stranger, b"junk" * 1000, cut=4000)  # appended to its own partial only
    await stranger.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)

    back = await FramePeer.upload(server.port)
    await back.send(Put("mine.bin", len(data), sha256(data), resume=ready.resume))
    resumed = await back.next()
    assert isinstance(resumed, Ready) and resumed.offset > 0
    assert resumed.resume == ready.resume
    await back.stream.send_all(b"".join(
        back.proto.send(Data(data[start : start + 65536]))
        for start in range(resumed.offset, len(data), 65536)
    ))
    await back.send(End())
    assert await back.next() == Stored("mine.bin", len(data), sha256(data))
    await back.aclose()


async def test_a_malformed_resume_token_is_a_bad_message() -> None:
    with pytest.raises(Exception, match="resume"):
        decode_payload(0x01, b'{"name":"a","size":1,"sha256":"' + b"0" * 64
                       + b'","resume":"../x"}')


# -- point 12: shutdown ---------------------------------------------------------------


async def test_shutdown_writes_the_bytes_received_and_tells_the_uploader(
    start_server: StartUpload,
) -> None:
    server = await start_server(grace_period=1)
    data = os.urandom(1_000_000)
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("late.bin", len(data), sha256(data)))
    assert await raw.next() == Ready(0)
    before = server.counters.bytes_in
    await send_upload(raw, data, cut=300_000)  # then silent, the rest unsent
    await wait_for(lambda: server.counters.bytes_in == before + 300_000)
    server.lifecycle.request_shutdown("test")
    events = await raw.until_closed()
    assert [type(e) for e in events] == [Error]
    assert isinstance(events[0], Error) and events[0].code == "shutting-down"
    await raw.aclose()
    await server.lifecycle.stopped.wait()
    (kept,) = partials(server.root)
    # 300,000 bytes on the wire: five 64 KiB DATA frames begun, 5 header bytes each.
    assert (server.root / PARTIAL_DIR / kept).stat().st_size == 300_000 - 5 * 5
    assert server.counters.extra["uploads_cut_by_shutdown"] == 1


# -- point 5: slots ---------------------------------------------------------------------


async def test_silent_uploads_do_not_hold_the_slots(start_server: StartUpload) -> None:
    server = await start_server(max_uploads=2, data_timeout=0.5)
    silent = []
    for name in ("a", "b"):
        peer = await FramePeer.upload(server.port)
        await peer.send(Put(name, 3, sha256(b"abc")))
        assert await peer.next() == Ready(0)
        silent.append(peer)
    for peer in silent:
        events = await peer.until_closed()
        assert len(events) == 1 and isinstance(events[0], Error)
        assert events[0].code == "timeout"
        await peer.aclose()
    assert server.counters.errors_by_reason["data-timeout"] == 2
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(b"xyz", name="c")
    assert stored.name == "c"


async def trickle(peer: FramePeer, chunks: list[bytes], pause: float) -> None:
    """Send each chunk, then wait ``pause`` seconds; until the server closes."""
    try:
        for chunk in chunks:
            await peer.stream.send_all(chunk)
            await trio.sleep(pause)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # closed by the server: what the test waits for


async def test_a_trickled_upload_below_the_minimum_rate_loses_its_slot_and_keeps_its_bytes(
    start_server: StartUpload, server_clock: trio.testing.MockClock
) -> None:
    server = await start_server(max_uploads=1, data_timeout=20, min_rate=1024)
    data = os.urandom(100_000)
    peer = await FramePeer.upload(server.port)
    await peer.send(Put("slow.bin", len(data), sha256(data)))
    ready = await peer.next()
    assert isinstance(ready, Ready) and ready.offset == 0
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        # A byte every 19 s: always within the data timeout, far below 1 KiB/s.
        frames = [peer.proto.send(Data(data[i : i + 1])) for i in range(len(data))]
        nursery.start_soon(trickle, peer, frames, 19)
        events = await peer.until_closed(timeout=100)
        nursery.cancel_scope.cancel()
    await peer.aclose()
    # Judged at the end of the grace (data_timeout): 2 bytes in 20 s.
    assert trio.current_time() - started == pytest.approx(20)
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].code == "timeout" and "--min-rate 1024 B/s" in events[0].message
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason["slow-upload"] == 1
    async with open_upload("127.0.0.1", server.port) as up:  # the only slot is free
        await up.put(b"xyz", name="c")
    (kept,) = partials(server.root)
    assert (server.root / PARTIAL_DIR / kept).stat().st_size == 2
    back = await FramePeer.upload(server.port)  # the token resumes it after the kept bytes
    await back.send(Put("slow.bin", len(data), sha256(data), resume=ready.resume))
    assert await back.next() == Ready(2, ready.resume)
    await send_upload(back, data[2:])
    assert await back.next() == Stored("slow.bin", len(data), sha256(data))
    await back.aclose()


async def test_an_upload_averaging_the_minimum_rate_may_pause(
    start_server: StartUpload, server_clock: trio.testing.MockClock
) -> None:
    server = await start_server(data_timeout=20, min_rate=1024)
    data = os.urandom(80_000)
    peer = await FramePeer.upload(server.port)
    await peer.send(Put("paused.bin", len(data), sha256(data)))
    assert await peer.next() == Ready(0)
    # Silent for 15 s at a time, yet never behind 1 KiB/s once the grace is over:
    # 40,000 bytes at 15 s cover 39 s, 80,000 at 30 s all the file.
    for start in (0, 40_000):
        await trio.sleep(15)
        await peer.send(Data(data[start : start + 40_000]))
    await trio.sleep(15)
    await peer.send(End())
    assert await peer.next(timeout=100) == Stored("paused.bin", len(data), sha256(data))
    await peer.aclose()
    assert server.counters.errors_by_reason["slow-upload"] == 0


def test_the_pace_waits_for_silence_until_the_rate_falls_behind() -> None:
    pace = UploadPace(data_timeout=20, min_rate=1000, due=10_000)
    assert pace.next_wait() == (20, False)  # the grace: silence alone ends it
    pace.received, pace.waited = 10_000, 5.0  # all it owes: only END is due
    assert pace.next_wait() == (20, False)
    pace.received, pace.waited = 2_500, 19.0  # owes 19,000 by now: 1 s left of the grace
    assert pace.next_wait() == (1.0, True)
    pace.received, pace.waited = 5_000, 30.0  # already behind
    assert pace.next_wait() == (0.0, True)
    pace.received, pace.waited = 5_000, 0.0  # covers 5 s, inside the grace
    assert pace.next_wait() == (20, False)
    off = UploadPace(data_timeout=20, min_rate=0, due=10_000)
    off.waited = 1e6
    assert off.next_wait() == (20, False)


def test_a_negative_minimum_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="min_rate"):
        UploadConfig(min_rate=-1)


# -- point 5: handshake -------------------------------------------------------------------


async def test_a_first_request_trickled_past_the_handshake_timeout_is_closed(
    start_server: StartUpload, server_clock: trio.testing.MockClock
) -> None:
    server = await start_server(handshake_timeout=5, idle_timeout=300)
    peer = await FramePeer.upload(server.port)
    started = trio.current_time()
    put = peer.proto.send(Put("a", 3, sha256(b"abc")))
    async with trio.open_nursery() as nursery:
        # Four bytes of the frame's five-byte header, 1.5 s apart: each receive
        # well inside the idle timeout, the last just before the handshake's end.
        nursery.start_soon(trickle, peer, [put[i : i + 1] for i in range(4)], 1.5)
        events = await peer.until_closed(timeout=100)
        nursery.cancel_scope.cancel()
    await peer.aclose()
    assert trio.current_time() - started == pytest.approx(5)
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].code == "timeout" and "first request" in events[0].message
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason["handshake-timeout"] == 1


async def test_requests_after_the_first_keep_the_idle_timeout(
    start_server: StartUpload, server_clock: trio.testing.MockClock
) -> None:
    server = await start_server(handshake_timeout=5, idle_timeout=300)
    peer = await FramePeer.upload(server.port)
    await peer.send(ListFiles())
    assert await peer.next() == Listing(())
    assert await peer.next() == End()
    await trio.sleep(60)  # far past the handshake timeout, inside the idle timeout
    await peer.send(Stat("missing"))
    answer = await peer.next()
    assert isinstance(answer, Error) and answer.code == "not-found"
    await peer.aclose()
    assert server.counters.errors_by_reason["handshake-timeout"] == 0


async def test_a_classic_header_trickled_past_the_handshake_timeout_is_closed(
    start_server: StartUpload, server_clock: trio.testing.MockClock
) -> None:
    server = await start_server(handshake_timeout=5, idle_timeout=300)
    stream = await trio.open_tcp_stream(HOST, server.port)
    started = trio.current_time()

    async def slow_header() -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            for byte in b"notes.txt":  # never its '|'
                await stream.send_all(bytes([byte]))
                await trio.sleep(1)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(slow_header)
        with trio.fail_after(100), contextlib.suppress(trio.BrokenResourceError):
            # Closed without a word (a reset if the last byte was still unread).
            assert await stream.receive_some(100) == b""
        nursery.cancel_scope.cancel()
    await stream.aclose()
    assert trio.current_time() - started == pytest.approx(5)
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason["handshake-timeout"] == 1
    assert stored_names(server.root) == []


@pytest.mark.parametrize(
    ("pause", "reason", "cut_at"),
    [(19, "slow-upload", 20), (None, "data-timeout", 20)],
    ids=["a-byte-every-19-s", "silent"],
)
async def test_a_classic_upload_too_slow_or_silent_gives_its_slot_back(
    start_server: StartUpload, server_clock: trio.testing.MockClock,
    pause: float | None, reason: str, cut_at: float,
) -> None:
    server = await start_server(max_uploads=1, data_timeout=20, min_rate=1024)
    stream = await trio.open_tcp_stream(HOST, server.port)
    await stream.send_all(b"slow.bin|100000")
    await wait_for(lambda: partials(server.root) != [])  # the upload has its slot
    started = trio.current_time()

    async def bytes_now_and_then() -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while pause is not None:
                await stream.send_all(b"x")
                await trio.sleep(pause)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(bytes_now_and_then)
        with trio.fail_after(100), contextlib.suppress(trio.BrokenResourceError):
            # The tutorial's client cannot read why: the connection closes.
            assert await stream.receive_some(100) == b""
        nursery.cancel_scope.cancel()
    await stream.aclose()
    # Judged from the header (a poll before ``started``): 20 s, not 19 or 25.
    assert trio.current_time() - started == pytest.approx(cut_at, abs=0.5)
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason[reason] == 1
    assert partials(server.root) == []  # classic mode cannot resume: nothing kept
    async with open_upload("127.0.0.1", server.port) as up:  # the only slot is free
        await up.put(b"xyz", name="c")
    assert stored_names(server.root) == ["c"]
