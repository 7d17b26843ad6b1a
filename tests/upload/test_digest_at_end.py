"""Uploads whose digest travels at END: a file is read once, resumes stay correct."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import trio

from services.upload.client import UploadRefused, open_upload, prepare, put_resuming
from services.upload.events import Data, End, Error, Event, Put, Ready, Stored
from services.upload.protocol import Role, UploadConnection
from services.upload.source import BytesReader, SourceChanged
from services.wire.frames import encode_frame
from services.wire.preface import encode_preface
from services.wire.sentinels import CLOSED, NEED_DATA
from tests.support.peers import FramePeer
from tests.support.servers import StartUpload
from tests.support.storage import partials, sha256, stored_names
from tests.support.waiting import wait_for


class Repeated:
    """A reader of a block repeated up to ``size`` bytes, counting its reads."""

    def __init__(self, block: bytes, size: int) -> None:
        self.block = block
        self.size = size
        self.bytes_read = 0

    def read_at(self, offset: int, length: int) -> bytes:
        out = bytearray()
        while len(out) < length and offset + len(out) < self.size:
            at = (offset + len(out)) % len(self.block)
            out += self.block[at : at + length - len(out)]
        self.bytes_read += len(out)
        return bytes(out[: self.size - offset])

    def content(self) -> bytes:
        return self.read_at(0, self.size)


async def test_a_file_is_read_once_and_its_digest_sent_at_end(
    start_server: StartUpload, tmp_path: Path
) -> None:
    server = await start_server()
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(5_000_000))
    item = await prepare(source)
    assert item.sha256 == ""  # nothing read before the bytes flow
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(item)
    assert stored == Stored("f.bin", 5_000_000, sha256(source.read_bytes()))
    assert (server.root / "f.bin").read_bytes() == source.read_bytes()


async def test_a_reader_is_uploaded_and_verified(start_server: StartUpload) -> None:
    server = await start_server()
    reader = Repeated(os.urandom(300_000), 3_500_001)
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(reader, name="made.bin")
    assert stored.sha256 == sha256(reader.content())
    assert reader.bytes_read == 2 * reader.size  # the upload's one pass, then content()
    assert (server.root / "made.bin").read_bytes() == reader.content()


async def test_a_wrong_digest_at_end_stores_nothing(start_server: StartUpload) -> None:
    server = await start_server()
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("w.bin", 3))
    assert await raw.next() == Ready(0)
    await raw.send(Data(b"abc"))
    await raw.send(End(sha256(b"abd")))
    answer = await raw.next()
    assert isinstance(answer, Error) and answer.code == "hash-mismatch"
    await raw.aclose()
    assert stored_names(server.root) == [] and partials(server.root) == []


async def test_an_end_without_the_missing_digest_is_fatal_and_keeps_the_bytes(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("n.bin", 100_000))
    ready = await raw.next()
    assert isinstance(ready, Ready)
    await raw.send(Data(b"n" * 100_000))
    await raw.stream.send_all(b"\x04\x00\x00\x00\x00")  # a plain END: the digest is missing
    assert [e.code for e in await raw.until_closed() if isinstance(e, Error)] == ["bad-message"]
    await raw.aclose()
    assert stored_names(server.root) == []
    assert len(partials(server.root)) == 1  # kept for a resume that says it right


async def test_a_resume_hashes_the_kept_prefix_locally(start_server: StartUpload) -> None:
    server = await start_server()
    data = os.urandom(1_000_000)
    raw = await FramePeer.upload(server.port)
    await raw.send(Put("r.bin", len(data)))
    ready = await raw.next()
    assert isinstance(ready, Ready)
    await raw.send(Data(data[:400_000]))
    await raw.aclose()  # cut: the server keeps 400,000 bytes
    await wait_for(lambda: server.counters.connections_open == 0)

    reader = Repeated(data, len(data))
    item = await prepare(reader, name="r.bin")
    item.token.value = ready.resume
    offsets: list[int] = []
    async with open_upload("127.0.0.1", server.port) as up:
        stored = await up.put(item, progress=lambda done, _: offsets.append(done))
    assert offsets[0] == 400_000
    assert stored.sha256 == sha256(data)
    assert reader.bytes_read == len(data)  # the prefix hashed, the rest sent: once each
    assert server.counters.extra["resumes"] == 1


async def test_a_source_that_shrinks_is_an_error(start_server: StartUpload) -> None:
    server = await start_server()
    reader = Repeated(b"ab", 2_000_000)
    item = await prepare(reader, name="s.bin")
    reader.size = 1_000_000  # it now ends before the size the PUT announced
    async with open_upload("127.0.0.1", server.port) as up:
        with pytest.raises(SourceChanged):
            await up.put(item)
    assert stored_names(server.root) == []


async def test_bytes_declare_their_digest_in_the_put() -> None:
    item = await prepare(b"hello", name="h")
    assert item.sha256 == sha256(b"hello")
    first = await prepare(BytesReader(b"hello"), name="h", hash_first=True)
    assert first.sha256 == sha256(b"hello")


async def serve_like_an_older_server(listeners: list[trio.SocketListener],
                                     puts: list[Put]) -> None:
    """Refuses a PUT without sha256 as ``bad-message`` and closes, as servers before
    digests at END did; serves a PUT with one."""

    async def handle(stream: trio.SocketStream) -> None:
        proto = UploadConnection(Role.SERVER)
        preface = encode_preface("upload")
        got = b""
        while len(got) < len(preface):
            got += await stream.receive_some(len(preface) - len(got))
        hasher = hashlib.sha256()
        while True:
            event: Event | object = proto.next_event()
            if event is NEED_DATA:
                proto.receive_data(await stream.receive_some(1 << 16))
                continue
            if event is CLOSED:
                return
            if isinstance(event, Put):
                puts.append(event)
                if not event.sha256:  # the bytes of an older server: no "fatal" field
                    await stream.send_all(encode_frame(
                        0x0C, b'{"code":"bad-message","message":"field \'sha256\' missing"}'))
                    await stream.aclose()
                    return
                await stream.send_all(proto.send(Ready(0)))
            elif isinstance(event, Data):
                hasher.update(event.data)
            elif isinstance(event, End):
                put = puts[-1]
                await stream.send_all(proto.send(Stored(put.name, put.size, hasher.hexdigest())))

    await trio.serve_listeners(handle, listeners)


async def test_put_resuming_hashes_first_for_an_older_server(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    puts: list[Put] = []
    nursery.start_soon(serve_like_an_older_server, listeners, puts)
    source = tmp_path / "old.bin"
    source.write_bytes(os.urandom(300_000))
    stored = await put_resuming("127.0.0.1", port, source, retries=0)
    assert stored.sha256 == sha256(source.read_bytes())
    assert [bool(p.sha256) for p in puts] == [False, True]


async def test_a_refusal_other_than_bad_message_is_not_retried(
    start_server: StartUpload, tmp_path: Path
) -> None:
    server = await start_server(max_file_size=10)
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 100)
    with pytest.raises(UploadRefused) as refused:
        await put_resuming("127.0.0.1", server.port, source, retries=0)
    assert refused.value.code == "too-large"
