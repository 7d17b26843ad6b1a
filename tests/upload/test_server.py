"""The upload server over loopback: atomic storage, resume, refusals, limits, concurrency."""

from __future__ import annotations

import os
import random
import time

import pytest
import trio
import trio.lowlevel

from services.upload.client import ConnectionLost, UploadRefused, open_upload, prepare
from services.upload.codec import Kind
from services.upload.events import Data, End, Error, FileInfo, Put, Ready, Stored
from services.upload.partial import fsync_dir
from services.upload.protocol import Role, UploadConnection
from services.wire.frames import HEADER
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED
from tests.support.peers import FramePeer, send_upload
from tests.support.servers import StartUpload
from tests.support.storage import partials, sha256, stored_names
from tests.support.waiting import wait_for

FRAME = 64 * 1024


def framed_upload(data: bytes) -> bytes:
    """The DATA frames and END of an upload of ``data`` as the raw client sends them."""
    out = b""
    for start in range(0, len(data), FRAME):
        chunk = data[start : start + FRAME]
        out += HEADER.pack(Kind.DATA, len(chunk)) + chunk
    return out + HEADER.pack(Kind.END, 0)


def payload_bytes_before(cut: int, data: bytes) -> int:
    """How many file bytes the first ``cut`` bytes of ``framed_upload(data)`` carry."""
    done = 0
    position = 0
    for start in range(0, len(data), FRAME):
        length = min(FRAME, len(data) - start)
        position += HEADER.size
        if cut <= position:
            return done
        done += min(length, cut - position)
        position += length
        if cut <= position:
            return done
    return done


async def test_put_list_stat_get_round_trip(start_server: StartUpload, tmp_path) -> None:
    server = await start_server()
    data = os.urandom(3 * 1024 * 1024 + 17)
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(data, name="blob.bin")
        assert stored == Stored("blob.bin", len(data), sha256(data))
        listing = await up.list()
        assert [(f.name, f.size) for f in listing] == [("blob.bin", len(data))]
        info = await up.stat("blob.bin")
        assert (info.size, info.sha256) == (len(data), sha256(data))
        got = await up.get("blob.bin", tmp_path / "copy.bin")
        assert got.sha256 == sha256(data)
    assert (tmp_path / "copy.bin").read_bytes() == data
    assert not (tmp_path / "copy.bin.part").exists()
    assert (server.root / "blob.bin").read_bytes() == data
    assert server.counters.extra["files_stored"] == 1
    assert server.counters.extra["bytes_stored"] == len(data)
    assert server.counters.extra["downloads"] == 1


@pytest.mark.parametrize("seed", range(6))
async def test_upload_cut_at_a_random_byte_leaves_nothing_then_resumes(
    start_server: StartUpload, seed: int
) -> None:
    server = await start_server()
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(1, 400_000))
    body = framed_upload(data)
    cut = rng.randrange(0, len(body) - HEADER.size)  # always before END
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("cut.bin", len(data), sha256(data)))
    ready = await raw.next()
    assert ready == Ready(0)
    assert await send_upload(raw, data, cut=cut) == body
    await raw.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)
    assert stored_names(server.root) == []  # nothing under the final name
    assert len(partials(server.root)) == 1  # the staging file stays, for a resume
    expected_offset = payload_bytes_before(cut, data)

    offsets: list[int] = []
    item = await prepare(data, name="cut.bin")
    assert isinstance(ready, Ready)
    item.token.value = ready.resume  # the resume token the first READY issued
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(item, progress=lambda done, total: offsets.append(done))
    assert offsets[0] == expected_offset  # resumed exactly where the data stopped
    assert stored.sha256 == sha256(data)
    assert (server.root / "cut.bin").read_bytes() == data
    assert partials(server.root) == []
    assert server.counters.extra["resumes"] == (1 if expected_offset else 0)


async def test_wrong_declared_hash_is_refused_and_nothing_stored(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    data = b"x" * 100_000
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("h.bin", len(data), sha256(b"something else")))
    assert await raw.next() == Ready(0)
    await send_upload(raw, data)
    answer = await raw.next()
    assert isinstance(answer, Error) and answer.code == "hash-mismatch"
    # The connection stays usable after a refusal.
    await raw.send(Put("h.bin", 3, sha256(b"abc")))
    assert await raw.next() == Ready(0)
    await raw.send(Data(b"abc"))
    await raw.send(End())
    assert await raw.next() == Stored("h.bin", 3, sha256(b"abc"))
    await raw.aclose()
    assert stored_names(server.root) == ["h.bin"]
    assert (server.root / "h.bin").read_bytes() == b"abc"
    assert partials(server.root) == []


async def test_short_upload_is_a_size_mismatch_and_nothing_stored(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("s.bin", 10, sha256(b"0123456789")))
    assert await raw.next() == Ready(0)
    await raw.send(Data(b"01234"))
    await raw.send(End())
    answer = await raw.next()
    assert isinstance(answer, Error) and answer.code == "size-mismatch"
    await raw.aclose()
    assert stored_names(server.root) == [] and partials(server.root) == []


async def test_more_data_than_declared_is_refused_and_the_connection_closed(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("l.bin", 3, sha256(b"abc")))
    assert await raw.next() == Ready(0)
    await raw.stream.send_all(HEADER.pack(Kind.DATA, 4) + b"abcd")  # our proto refuses to
    events = await raw.until_closed()
    assert [e.code for e in events if isinstance(e, Error)] == ["size-mismatch"]
    await raw.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason["size-mismatch"] == 1
    assert stored_names(server.root) == []


BAD_NAMES = ["../x", "/etc/passwd", "a/b", "a\\b", "nul\x00byte", "ctl\x01", "esc\x1b[0m",
             ".", "..", "", "x" * 256, ".hidden"]


async def test_path_escaping_and_control_character_names_are_refused(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        for name in BAD_NAMES:
            with pytest.raises(UploadRefused) as info:
                await up.put(b"data", name=name)
            assert info.value.code == "bad-name", name
        for name in ["../x", "/etc/passwd"]:
            with pytest.raises(UploadRefused) as info:
                await up.stat(name)
            assert info.value.code == "bad-name"
    assert stored_names(server.root) == [] and partials(server.root) == []
    assert not (server.root.parent / "x").exists()
    assert server.counters.extra["uploads_refused"] == len(BAD_NAMES)


@pytest.mark.parametrize(
    ("limits", "code"),
    [({"max_file_size": 1000}, "too-large"), ({"quota": 5000}, "quota-exceeded")],
)
async def test_limits_are_refused_before_data_flows(
    start_server: StartUpload, tmp_path, limits: dict[str, int], code: str
) -> None:
    server = await start_server(**limits)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.put(big)
        assert info.value.code == code
        await up.put(b"small", name="small.txt")  # the connection goes on
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.bytes_in < 2000  # preface + PUTs + 5 bytes, not 2 MiB
    assert stored_names(server.root) == ["small.txt"]


async def test_quota_counts_stored_files_and_uploads_in_flight(
    start_server: StartUpload,
) -> None:
    server = await start_server(quota=10_000)
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(b"a" * 6000, name="a")
        raw = await FramePeer.upload(server.port)
        await raw.send(Put("b", 3000, sha256(b"b" * 3000)))
        assert await raw.next() == Ready(0)  # 9000 reserved now
        with pytest.raises(UploadRefused) as info:
            await up.put(b"c" * 2000, name="c")
        assert info.value.code == "quota-exceeded"
        await raw.aclose()  # the interrupted upload's partial still counts (0 bytes here)
        await wait_for(lambda: server.counters.connections_open == 1)
        await up.put(b"c" * 2000, name="c")


async def test_name_clash_policy_on_request(start_server: StartUpload) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(b"one", name="f")
        with pytest.raises(UploadRefused) as info:
            await up.put(b"two", name="f")
        assert info.value.code == "exists"
        assert (server.root / "f").read_bytes() == b"one"
        await up.put(b"two", name="f", overwrite=True)
    assert (server.root / "f").read_bytes() == b"two"


async def test_name_clash_policy_never_and_always(start_server: StartUpload) -> None:
    never = await start_server(overwrite="never")
    async with open_upload("127.0.0.1", never.port) as up:
        await up.put(b"one", name="f")
        with pytest.raises(UploadRefused):
            await up.put(b"two", name="f", overwrite=True)
    always = await start_server(overwrite="always", root=never.root.parent / "other")
    async with open_upload("127.0.0.1", always.port) as up:
        await up.put(b"one", name="f")
        await up.put(b"two", name="f")
    assert (always.root / "f").read_bytes() == b"two"


async def test_overwrite_is_atomic_for_readers(start_server: StartUpload, tmp_path) -> None:
    server = await start_server()
    old, new = b"o" * 500_000, b"n" * 500_000
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(old, name="f")
    async with open_upload("127.0.0.1", server.port) as writer, trio.open_nursery() as nursery:
        nursery.start_soon(lambda: writer.put(new, name="f", overwrite=True))
        seen = set()
        while len(seen) < 2:
            content = (server.root / "f").read_bytes()
            assert content in (old, new)  # never a mix, never short
            seen.add(content)
            await trio.lowlevel.checkpoint()


async def test_eight_concurrent_uploads_of_different_sizes(
    start_server: StartUpload, tmp_path
) -> None:
    server = await start_server()
    rng = random.Random(8)
    blobs = {f"f{i}.bin": rng.randbytes(rng.randrange(0, 1_500_000)) for i in range(8)}

    async def one(name: str, data: bytes) -> None:
        async with open_upload("127.0.0.1", server.port) as up:
            await up.put(data, name=name)

    async with trio.open_nursery() as nursery:
        for name, data in blobs.items():
            nursery.start_soon(one, name, data)
    assert stored_names(server.root) == sorted(blobs)
    for name, data in blobs.items():
        assert (server.root / name).read_bytes() == data
    async with open_upload("127.0.0.1", server.port) as up:
        for name, data in blobs.items():
            await up.get(name, tmp_path / name)
            assert (tmp_path / name).read_bytes() == data
    assert server.counters.extra["files_stored"] == 8


async def test_same_upload_resumed_while_in_progress_is_busy(start_server: StartUpload) -> None:
    server = await start_server()
    first = await FramePeer.upload(server.port)
    await first.send(Put("same", 3, sha256(b"abc")))
    ready = await first.next()
    assert isinstance(ready, Ready)
    second = await FramePeer.upload(server.port)
    await second.send(Put("same", 3, sha256(b"abc"), resume=ready.resume))
    answer = await second.next()
    assert isinstance(answer, Error) and answer.code == "busy"
    await first.aclose()
    await second.aclose()


async def test_max_uploads_is_refused_with_busy(start_server: StartUpload) -> None:
    server = await start_server(max_uploads=1)
    first = await FramePeer.upload(server.port)
    await first.send(Put("one", 3, sha256(b"abc")))
    assert await first.next() == Ready(0)
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.put(b"xyz", name="two")
        assert info.value.code == "busy"
    await first.aclose()


async def test_download_resumes_from_a_partial_file(start_server: StartUpload, tmp_path) -> None:
    server = await start_server()
    data = os.urandom(700_000)
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(data, name="d")
        (tmp_path / "d.part").write_bytes(data[:300_000])
        seen: list[int] = []
        await up.get("d", tmp_path / "d", progress=lambda done, total: seen.append(done))
    assert seen[0] == 300_000
    assert (tmp_path / "d").read_bytes() == data


async def test_download_with_a_corrupt_partial_fails_verification(
    start_server: StartUpload, tmp_path
) -> None:
    server = await start_server()
    data = os.urandom(100_000)
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(data, name="d")
        (tmp_path / "d.part").write_bytes(b"\x00" * 1000)
        with pytest.raises(UploadRefused) as info:
            await up.get("d", tmp_path / "d")
        assert info.value.code == "hash-mismatch"
    assert not (tmp_path / "d").exists() and not (tmp_path / "d.part").exists()


async def test_missing_files_and_bad_offsets(start_server: StartUpload, tmp_path) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.stat("nope")
        assert info.value.code == "not-found"
        with pytest.raises(UploadRefused):
            await up.get("nope", tmp_path / "nope")
        await up.put(b"abc", name="abc")
        (tmp_path / "abc.part").write_bytes(b"abcdef")  # longer than the file
        with pytest.raises(UploadRefused) as info:
            await up.get("abc", tmp_path / "abc")
        assert info.value.code == "bad-offset"
        assert not (tmp_path / "abc.part").exists()  # so a retry starts over


async def test_listing_hides_staging_symlinks_and_foreign_entries(
    start_server: StartUpload, tmp_path
) -> None:
    server = await start_server()
    root = server.root
    (tmp_path / "secret").write_text("secret")
    os.symlink(tmp_path / "secret", root / "link")
    (root / "subdir").mkdir()
    (root / "ok.txt").write_text("ok")
    fsync_dir(root)
    async with open_upload("127.0.0.1", server.port) as up:
        assert [f.name for f in await up.list()] == ["ok.txt"]
        with pytest.raises(UploadRefused) as info:
            await up.get("link", tmp_path / "out")
        assert info.value.code == "not-found"
        with pytest.raises(UploadRefused):
            await up.put(b"x", name="subdir", overwrite=True)


async def test_bad_preface_gets_an_error_frame(start_server: StartUpload) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"\x00netlab/1 chat\n")
        raw = FramePeer(stream, UploadConnection(Role.CLIENT))
        raw.proto.send(Put("x", 0, sha256(b"")))  # read it as an answer
        answer = await raw.next()
    assert isinstance(answer, Error) and answer.code == "bad-preface"


async def test_garbage_after_the_preface_is_answered_and_closed(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    raw = await FramePeer.upload(server.port)
    await raw.stream.send_all(b"\x01\x00\x00\x00\x02[]")
    raw.proto.send(Put("x", 0, sha256(b"")))
    answer = await raw.next()
    assert isinstance(answer, Error) and answer.code == "bad-message"
    assert await raw.next() is CLOSED
    await raw.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)


async def test_idle_client_is_told_and_disconnected(start_server: StartUpload) -> None:
    server = await start_server(idle_timeout=0.2)
    async with open_upload("127.0.0.1", server.port) as up:
        await wait_for(lambda: server.counters.errors_by_reason["timeout"] == 1)
        with pytest.raises((ConnectionLost, UploadRefused)):
            await up.list()
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.errors_by_reason["timeout"] == 1


async def test_shutdown_lets_uploads_finish_keeps_partials_and_tells_idle_clients(
    start_server: StartUpload,
) -> None:
    server = await start_server(grace_period=0.5)
    idle = await FramePeer.upload(server.port)
    busy = await FramePeer.upload(server.port)
    data = b"z" * 200_000
    await busy.send(Put("p.bin", len(data), sha256(data)))
    assert await busy.next() == Ready(0)
    await send_upload(busy, data, cut=100_000)
    await wait_for(lambda: server.counters.connections_open == 2)
    server.lifecycle.request_shutdown("test")
    events = await idle.until_closed()
    assert [e.code for e in events if isinstance(e, Error)] == ["shutting-down"]
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()  # the stalled upload is cancelled after grace
    assert stored_names(server.root) == []
    assert len(partials(server.root)) == 1  # kept for a resume
    await idle.aclose()
    await busy.aclose()


async def test_partials_expire_after_their_ttl_unless_active(
    start_server: StartUpload,
) -> None:
    server = await start_server(partial_ttl=60, cleanup_interval=3600)
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("e.bin", 10, sha256(b"0123456789")))
    assert await raw.next() == Ready(0)
    await raw.send(Data(b"01234"))
    await raw.aclose()
    await wait_for(lambda: server.counters.connections_open == 0)
    active = await FramePeer.upload(server.port)
    await active.send(Put("a.bin", 10, sha256(b"abcdefghij")))
    assert await active.next() == Ready(0)
    assert len(partials(server.root)) == 2
    assert await server.server.store.expire_partials(now=time.time() + 30) == []
    expired = await server.server.store.expire_partials(now=time.time() + 61)
    assert len(expired) == 1  # the idle one; the active upload is never swept
    assert len(partials(server.root)) == 1
    await active.aclose()


async def test_a_periodic_sweep_deletes_expired_partials(start_server: StartUpload) -> None:
    server = await start_server(partial_ttl=0.2, cleanup_interval=0.05)
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("e.bin", 10, sha256(b"0123456789")))
    assert await raw.next() == Ready(0)
    await raw.send(Data(b"01234"))
    await raw.aclose()
    await wait_for(lambda: server.counters.extra["partials_expired"] == 1)
    assert partials(server.root) == []


async def test_listing_info_has_no_hash_stat_has_it(start_server: StartUpload) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(b"abc", name="abc")
        (entry,) = await up.list()
        assert isinstance(entry, FileInfo) and entry.sha256 == ""
        assert (await up.stat("abc")).sha256 == sha256(b"abc")


async def test_upload_in_flight_finishes_during_the_grace_period(
    start_server: StartUpload,
) -> None:
    server = await start_server(grace_period=5)
    data = os.urandom(300_000)
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("late.bin", len(data), sha256(data)))
    assert await raw.next() == Ready(0)
    read_before = server.counters.bytes_in
    idle = await FramePeer.upload(server.port)
    await wait_for(lambda: server.counters.bytes_in == read_before + len(encode_preface("upload")))
    wire = await send_upload(raw, data, cut=100_000)
    server.lifecycle.request_shutdown("test")
    # An idle client told of the shutdown: the server is draining before the rest arrives.
    farewell = Error("shutting-down", "server is shutting down", fatal=True)
    assert await idle.until_closed() == [farewell]
    await idle.aclose()
    await raw.stream.send_all(wire[100_000:])
    assert await raw.next() == Stored("late.bin", len(data), sha256(data))
    assert await raw.until_closed() == [farewell]
    await raw.aclose()
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    assert (server.root / "late.bin").read_bytes() == data


async def test_stat_hash_follows_the_file_not_a_stale_cache(start_server: StartUpload) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        await up.put(b"first", name="f")
        assert (await up.stat("f")).sha256 == sha256(b"first")
        await up.put(b"second", name="f", overwrite=True)
        assert (await up.stat("f")).sha256 == sha256(b"second")
        path = server.root / "f"
        path.write_bytes(b"edited")  # changed behind the server's back
        os.utime(path, ns=(1, 1))
        assert (await up.stat("f")).sha256 == sha256(b"edited")


async def test_empty_file_round_trip(start_server: StartUpload, tmp_path) -> None:
    server = await start_server()
    async with open_upload("127.0.0.1", server.port) as up:
        assert await up.put(b"", name="empty") == Stored("empty", 0, sha256(b""))
        await up.get("empty", tmp_path / "empty")
    assert (server.root / "empty").read_bytes() == b""
    assert (tmp_path / "empty").read_bytes() == b""
