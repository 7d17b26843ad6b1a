"""The upload server keeps to the error model: ERROR says ``fatal``, and means it.

In-process tier: a real server on loopback, raw frames from :class:`FramePeer`.
"""

from __future__ import annotations

import pytest
import trio

from services.upload.client import UploadRefused, open_upload
from services.upload.events import Error, Info, ListFiles, Listing, Put, Ready, Stat
from services.upload.protocol import Role, UploadConnection
from services.wire.frames import encode_frame
from tests.support.peers import HOST, FramePeer
from tests.support.servers import StartUpload
from tests.support.storage import sha256


async def test_a_name_of_any_length_is_answered_bad_name_and_the_connection_goes_on(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    peer = await FramePeer.upload(server.port)
    await peer.send(Put("n" * 5000, 1, sha256(b"x")))
    answer = await peer.next()
    assert isinstance(answer, Error) and answer.code == "bad-name" and not answer.fatal
    await peer.send(Stat("m" * 5000))
    answer = await peer.next()
    assert isinstance(answer, Error) and answer.code == "bad-name" and not answer.fatal
    await peer.send(ListFiles())
    assert await peer.next() == Listing(())
    await peer.aclose()


async def test_a_request_sent_before_the_answer_is_a_fatal_unexpected_message(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    (server.root / "a.txt").write_bytes(b"abc")
    peer = await FramePeer.upload(server.port)
    # Two STATs in one send: the second is here before the first is answered.
    await peer.stream.send_all(peer.proto.send(Stat("a.txt")) + encode_frame(
        0x08, b'{"name":"a.txt"}'))
    events = await peer.until_closed()
    assert len(events) == 1
    error = events[0]
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == ("unexpected-message", True)
    await peer.aclose()
    # The same request alone is answered.
    alone = await FramePeer.upload(server.port)
    await alone.send(Stat("a.txt"))
    assert isinstance(await alone.next(), Info)
    await alone.aclose()


async def test_a_second_put_during_an_upload_is_a_fatal_unexpected_message(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    peer = await FramePeer.upload(server.port)
    await peer.send(Put("a.bin", 10, sha256(b"0123456789")))
    assert await peer.next() == Ready(0)
    await peer.stream.send_all(encode_frame(0x01, b'{"name":"b.bin","size":1}'))
    events = await peer.until_closed()
    assert [(e.code, e.fatal) for e in events if isinstance(e, Error)] == [
        ("unexpected-message", True)]
    await peer.aclose()


async def test_a_server_kind_from_the_client_is_a_fatal_unexpected_message(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    peer = await FramePeer.upload(server.port)
    await peer.stream.send_all(encode_frame(0x02, b'{"offset":0}'))  # READY
    events = await peer.until_closed()
    assert [(e.code, e.fatal) for e in events if isinstance(e, Error)] == [
        ("unexpected-message", True)]
    await peer.aclose()


async def test_past_max_clients_the_busy_error_is_fatal(start_server: StartUpload) -> None:
    server = await start_server(max_clients=1)
    first = await FramePeer.upload(server.port)
    await first.send(ListFiles())
    assert await first.next() == Listing(())
    # Sent on accept, before the client says anything (unread bytes would make the close a reset).
    late = FramePeer(await trio.open_tcp_stream(HOST, server.port), UploadConnection(Role.CLIENT))
    events = await late.until_closed()
    assert [(e.code, e.fatal) for e in events if isinstance(e, Error)] == [("busy", True)]
    await late.aclose()
    await first.aclose()


async def test_the_client_library_reports_whether_a_refusal_closed_the_connection(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    async with open_upload(HOST, server.port) as up:
        with pytest.raises(UploadRefused) as info:
            await up.stat("nothing-here")
        assert (info.value.code, info.value.fatal) == ("not-found", False)
        assert await up.list() == []  # the connection goes on
