"""The independent upload client (written from the reference alone) against netlab's server."""

from __future__ import annotations

import time
from pathlib import Path

from tests.independent.conftest import in_thread
from tests.independent.upload_client import (
    DATA,
    END,
    LIST,
    PUT,
    READY,
    UploadClient,
    sha256,
)
from tests.independent.wire import ServerError, encode_json, frame
from tests.support.servers import StartUpload

BODY = b"hello from an independent client\n"


async def test_put_list_stat_get_the_main_flow(upload_server: StartUpload) -> None:
    server = await upload_server()

    def talk() -> None:
        with UploadClient(server.host, server.port) as client:
            stored = client.put("notes.txt", BODY)
            assert stored == {"name": "notes.txt", "size": len(BODY), "sha256": sha256(BODY)}
            # The digest at END instead of in the PUT.
            assert client.put("later.txt", b"test", digest_at_end=True)["sha256"] == sha256(
                b"test")
            files = client.list()
            assert [(f["name"], f["size"]) for f in files] == [
                ("later.txt", 4), ("notes.txt", len(BODY))]
            info = client.stat("notes.txt")
            assert (info["size"], info["sha256"]) == (len(BODY), sha256(BODY))
            whole = client.get("notes.txt")
            assert whole.data == BODY and whole.meta["sha256"] == sha256(BODY)
            tail = client.get("notes.txt", offset=6)
            assert tail.data == BODY[6:]
            assert client.get("notes.txt", offset=len(BODY)).data == b""
        assert (server.root / "notes.txt").read_bytes() == BODY

    await in_thread(talk)


async def test_refusals_answer_the_request_and_keep_the_connection(
        upload_server: StartUpload) -> None:
    server = await upload_server(max_file_size=1000)

    def refused(call: object, code: str, client: UploadClient) -> None:
        try:
            call()  # type: ignore[operator]
        except ServerError as error:
            assert (error.code, error.fatal) == (code, False), error
            assert client.state == "IDLE"
            return
        raise AssertionError(f"expected {code}")

    def talk() -> None:
        with UploadClient(server.host, server.port) as client:
            client.put("taken.txt", b"one")
            refused(lambda: client.put("taken.txt", b"two"), "exists", client)
            assert client.put("taken.txt", b"two", overwrite=True)["size"] == 3
            for name in ("../escape", "a/b", ".hidden", "", " padded", "x" * 256,
                         "y" * 5000, "bell\x07"):
                refused(lambda name=name: client.start_put(name, 1), "bad-name", client)
                refused(lambda name=name: client.stat(name), "bad-name", client)
            refused(lambda: client.start_put("big.bin", 1001), "too-large", client)
            refused(lambda: client.stat("missing.txt"), "not-found", client)
            refused(lambda: client.get("missing.txt"), "not-found", client)
            refused(lambda: client.get("taken.txt", offset=4), "bad-offset", client)
            # A wrong digest: answered at END, nothing stored.
            client.start_put("wrong.txt", 4, digest=sha256(b"else"))
            client.send_data(b"test")
            refused(lambda: client.end(), "hash-mismatch", client)
            refused(lambda: client.stat("wrong.txt"), "not-found", client)
            # END before the declared size.
            client.start_put("short.txt", 10, digest=sha256(b"0123456789"))
            client.send_data(b"01234")
            refused(lambda: client.end(), "size-mismatch", client)
            assert client.stat("taken.txt")["sha256"] == sha256(b"two")

    await in_thread(talk)


async def test_an_interrupted_upload_resumes_with_its_token(upload_server: StartUpload) -> None:
    server = await upload_server()
    data = bytes(range(256)) * 4096  # 1 MiB

    def talk() -> None:
        with UploadClient(server.host, server.port) as first:
            ready = first.start_put("big.bin", len(data), digest=sha256(data))
            assert ready["offset"] == 0
            first.send_data(data[:300_000])
        # The first connection is gone; its bytes are kept for the token's holder.
        deadline = time.monotonic() + 10
        while True:
            with UploadClient(server.host, server.port) as second:
                try:
                    again = second.start_put("big.bin", len(data), digest=sha256(data),
                                             resume=ready["resume"])
                except ServerError as error:
                    # The old connection may still hold the upload for an instant.
                    assert (error.code, error.fatal) == ("busy", False), error
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                    continue
                assert 0 < again["offset"] <= 300_000
                second.send_data(data[again["offset"]:])
                assert second.end()["sha256"] == sha256(data)
                break
        # Without the token, a PUT starts over.
        with UploadClient(server.host, server.port) as third:
            assert third.start_put("other.bin", 10, digest=sha256(b"x" * 10))["offset"] == 0

    await in_thread(talk)
    assert (server.root / "big.bin").read_bytes() == data


async def test_a_long_listing_comes_in_several_listings(upload_server: StartUpload) -> None:
    server = await upload_server()
    server.root.mkdir(parents=True, exist_ok=True)
    names = sorted(f"{index:04d}-" + "n" * 150 for index in range(400))
    for name in names:
        (server.root / name).write_bytes(b"x")

    def talk() -> None:
        with UploadClient(server.host, server.port) as client:
            files = client.list()
            assert [f["name"] for f in files] == names
            assert client.listings >= 2

    await in_thread(talk)


def _refused(host: str, port: int, data: bytes, *, state: str = "IDLE",
             prefaced: bool = True) -> ServerError:
    """Send ``data`` (the client's ``state`` after it): one fatal ERROR, then the close."""
    with UploadClient(host, port, send_preface=prefaced) as client:
        client.peer.send(data)
        client.state = state
        for _ in range(3):
            try:
                client.receive()
            except ServerError as error:
                assert error.fatal, error
                assert client.closed()
                return error
        raise AssertionError("no ERROR")


async def test_protocol_errors_get_one_fatal_error_with_the_reference_code(
        upload_server: StartUpload) -> None:
    server = await upload_server()
    put = {"name": "a.txt", "size": 4, "sha256": sha256(b"test")}
    cases = [
        (frame(0x7F), "bad-message", "IDLE"),
        (frame(READY, b'{"offset":0}'), "unexpected-message", "IDLE"),  # a server-only kind
        (frame(PUT, b'{"name":"a.txt","size":4.0}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","size":1e3}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","size":true}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","size":-1}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","name":"b.txt","size":1}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","size":NaN}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":null,"size":1}'), "bad-message", "IDLE"),
        (frame(PUT, b'{"name":"a.txt","size":1,"overwrite":"yes"}'), "bad-message", "IDLE"),
        (frame(LIST, b"[]"), "bad-message", "IDLE"),
        (frame(LIST, b"\xff"), "bad-encoding", "IDLE"),
        (frame(DATA, b"x"), "unexpected-message", "IDLE"),  # DATA with no upload
        # A second request before the first one's answer (sent together).
        (frame(LIST, b"{}") + frame(LIST, b"{}"), "unexpected-message", "LIST_SENT"),
        (frame(PUT, encode_json(put)) + frame(LIST, b"{}"), "unexpected-message",
         "PUT_SENT"),
        # File bytes before READY: nothing flows before the answer.
        (frame(PUT, encode_json(put)) + frame(DATA, b"test"), "unexpected-message",
         "PUT_SENT"),
    ]

    def talk() -> None:
        for data, code, state in cases:
            error = _refused(server.host, server.port, data, state=state)
            assert error.code == code, (data, error)
        error = _refused(server.host, server.port, b"\x00netlab/1 exec\n", prefaced=False)
        assert error.code == "bad-preface"

    await in_thread(talk)


async def test_upload_errors_while_bytes_flow_are_fatal(upload_server: StartUpload) -> None:
    server = await upload_server()

    def talk() -> None:
        # More bytes than the PUT's size: refused at the DATA frame's header.
        with UploadClient(server.host, server.port) as client:
            client.start_put("a.txt", 4, digest=sha256(b"test"))
            client.peer.send_frame(DATA, b"12345")
            error = client.expect_error()
            assert (error.code, error.fatal) == ("size-mismatch", True)
            assert client.closed()
        # The digest twice: in the PUT and at END.
        with UploadClient(server.host, server.port) as client:
            client.start_put("b.txt", 4, digest=sha256(b"test"))
            client.send_data(b"test")
            client.peer.send_frame(END, encode_json({"sha256": sha256(b"test")}))
            client.state = "UPLOAD_ENDED"
            error = client.expect_error()
            assert (error.code, error.fatal) == ("bad-message", True)
            assert client.closed()
        # Neither: no digest in the PUT, none at END.
        with UploadClient(server.host, server.port) as client:
            client.start_put("c.txt", 4)
            client.send_data(b"test")
            client.peer.send_frame(END)
            client.state = "UPLOAD_ENDED"
            error = client.expect_error()
            assert (error.code, error.fatal) == ("bad-message", True)

    await in_thread(talk)


async def test_unknown_fields_are_ignored_and_null_is_absent(upload_server: StartUpload) -> None:
    server = await upload_server()

    def talk() -> None:
        with UploadClient(server.host, server.port) as client:
            # "sha256": null is no digest: it comes at END.
            client.request(PUT, {"name": "n.txt", "size": 4, "sha256": None, "overwrite": None,
                                 "resume": None, "colour": "blue"}, "PUT_SENT")
            _kind, ready = client.receive()
            assert ready["offset"] == 0
            client.send_data(b"test")
            assert client.end(sha256(b"test"))["name"] == "n.txt"
            client.request(0x0A, {"name": "n.txt", "offset": None, "extra": [1, 2]}, "GET_SENT")
            _kind, meta = client.receive()
            assert meta["offset"] == 0

    await in_thread(talk)


async def test_refusals_before_the_first_request(upload_server: StartUpload,
                                                 tmp_path: Path) -> None:
    server = await upload_server(max_clients=1, handshake_timeout=0.5)

    def talk() -> None:
        with UploadClient(server.host, server.port) as holder:
            # Past --max-clients: ERROR busy, fatal, before the client sent anything.
            with UploadClient(server.host, server.port, send_preface=False) as late:
                error = late.expect_error()
                assert (error.code, error.fatal) == ("busy", True)
                assert late.closed()
            # The preface alone, then nothing: ERROR timeout, fatal.
            error = holder.expect_error()
            assert (error.code, error.fatal) == ("timeout", True)
            assert holder.closed()

    await in_thread(talk)


async def test_an_upload_that_stops_sending_ends_with_timeout(upload_server: StartUpload) -> None:
    server = await upload_server(data_timeout=0.5)

    def talk() -> None:
        with UploadClient(server.host, server.port) as client:
            client.start_put("stalled.bin", 100, digest=sha256(bytes(100)))
            client.send_data(bytes(10))
            error = client.expect_error()
            assert (error.code, error.fatal) == ("timeout", True)
            assert client.closed()

    await in_thread(talk)
