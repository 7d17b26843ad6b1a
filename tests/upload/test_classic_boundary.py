"""Where a classic header ends: at a receive boundary after SIZE, or at the first non-digit.

A file whose bytes start with an ASCII digit is the hard case: glued to its
header in one segment, its digits would run into SIZE. The tutorial's client
sends the header alone (Nagle holds its data until the server acknowledges
the header, which the server does only once the header is read), so it is
stored right; a client that glues them is misparsed, as documented, and
counted as ``classic_glued_header``.
"""

from __future__ import annotations

import socket

import trio

from services.upload.classic import ClassicDecoder, ClassicHeader
from tests.support.servers import StartUpload
from tests.support.storage import partials, stored_names
from tests.support.waiting import wait_for

DIGITS = b"0123456789" * 500  # 5000 bytes, a digit first


def tutorial_upload(port: int, files: list[tuple[str, bytes]]) -> list[bytes]:
    """The tutorial's client: header with one sendall, then 1024-byte sendalls, then recv."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for name, data in files:
            sock.sendall(f"{name}|{len(data)}".encode())
            for start in range(0, len(data), 1024):
                sock.sendall(data[start : start + 1024])
            replies.append(sock.recv(1024))
    return replies


def test_a_receive_ending_after_the_digits_ends_the_header() -> None:
    decoder = ClassicDecoder()
    decoder.receive_data(b"digits.bin|5000")
    header = decoder.next_event()
    assert header == ClassicHeader(b"digits.bin", 5000)
    assert isinstance(header, ClassicHeader) and not header.glued


def test_a_header_followed_by_bytes_in_the_same_receive_is_marked_glued() -> None:
    decoder = ClassicDecoder()
    decoder.receive_data(b"digits.bin|5000" + DIGITS)
    header = decoder.next_event()
    assert isinstance(header, ClassicHeader) and header.glued
    assert header.size == int(b"5000" + DIGITS[:16])  # SIZE ran into the data: the flaw


async def test_tutorial_client_stores_digit_leading_files(start_server: StartUpload) -> None:
    server = await start_server()
    files = [(f"digits{i}.bin", DIGITS[i:]) for i in range(4)]
    for _ in range(5):  # five connections of four files each
        replies = await trio.to_thread.run_sync(tutorial_upload, server.port, files)
        assert replies == [b"true"] * 4
    for name, data in files:
        assert (server.root / name).read_bytes() == data
    assert server.counters.extra["classic_glued_header"] == 0


async def test_header_alone_then_digit_leading_data_is_stored_right(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # nothing waits for an ACK
        sock.sendall(b"digits.bin|5000")
        await wait_for(lambda: bool(partials(server.root)))  # the header has been read alone
        sock.sendall(DIGITS)
        assert await trio.to_thread.run_sync(sock.recv, 16) == b"true"
    assert (server.root / "digits.bin").read_bytes() == DIGITS
    assert server.counters.extra["classic_glued_header"] == 0


async def test_header_and_digit_leading_data_in_one_segment_is_misparsed_and_counted(
    start_server: StartUpload,
) -> None:
    server = await start_server()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"digits.bin|5000" + DIGITS)  # one send, one segment on loopback
        # SIZE read as 20 digits, over the per-file limit: refused and closed.
        assert await trio.to_thread.run_sync(sock.recv, 16) == b"false"
    assert server.counters.extra["classic_glued_header"] == 1
    assert server.counters.extra["classic_refused_too_large"] == 1
    assert stored_names(server.root) == []
