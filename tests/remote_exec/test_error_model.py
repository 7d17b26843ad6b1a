"""The exec server keeps to the error model: the same fault, the same code, and ``fatal``.

In-process tier: a real server on loopback, raw frames from :class:`FramePeer`.
"""

from __future__ import annotations

import pytest

from services.remote_exec.events import Error, Exit, Run, Started, Stdout
from services.wire.frames import encode_frame
from tests.support.peers import FramePeer
from tests.support.servers import EXEC_TOKEN, StartExec


def fatal_errors(events: list[object]) -> list[tuple[str, bool]]:
    return [(e.code, e.fatal) for e in events if isinstance(e, Error)]


@pytest.mark.parametrize("wire", [
    encode_frame(0x12, b"out"),  # STDOUT: a kind only the server sends
    encode_frame(0x15, b'{"code":"busy","message":"","fatal":true}'),  # ERROR
], ids=["STDOUT", "ERROR"])
async def test_a_server_kind_from_the_client_is_a_fatal_unexpected_message(
    start_server: StartExec, wire: bytes,
) -> None:
    server = await start_server()
    peer = await FramePeer.exec(server.port)
    await peer.stream.send_all(wire)
    assert fatal_errors(await peer.until_closed()) == [("unexpected-message", True)]
    await peer.aclose()


async def test_a_second_run_while_one_runs_is_a_fatal_unexpected_message(
    start_server: StartExec,
) -> None:
    server = await start_server()
    peer = await FramePeer.exec(server.port)
    await peer.send(Run("sleep 5", EXEC_TOKEN))
    assert isinstance(await peer.next(), Started)
    # Written by hand: the peer's own protocol would refuse to send it.
    await peer.stream.send_all(encode_frame(
        0x01, b'{"command":"echo two","token":"' + EXEC_TOKEN.encode() + b'"}'))
    assert fatal_errors(await peer.until_closed()) == [("unexpected-message", True)]
    await peer.aclose()


async def test_unknown_fields_and_nulls_in_a_run_are_ignored(start_server: StartExec) -> None:
    server = await start_server()
    peer = await FramePeer.exec(server.port)
    peer.proto.send(Run("echo hi", EXEC_TOKEN))  # the peer's state: a RUN is out
    await peer.stream.send_all(encode_frame(
        0x01, b'{"command":"echo hi","token":"' + EXEC_TOKEN.encode()
        + b'","timeout":null,"stdin":null,"priority":"high"}'))
    output = b""
    while not isinstance(event := await peer.next(), Exit):
        if isinstance(event, Stdout):
            output += event.data
    assert (output, event.status) == (b"hi\n", 0)
    await peer.aclose()


async def test_a_duplicate_key_is_a_fatal_bad_message(start_server: StartExec) -> None:
    server = await start_server()
    peer = await FramePeer.exec(server.port)
    token = EXEC_TOKEN.encode()
    await peer.stream.send_all(encode_frame(
        0x01, b'{"command":"true","token":"' + token + b'","token":"' + token + b'"}'))
    assert fatal_errors(await peer.until_closed()) == [("bad-message", True)]
    await peer.aclose()
