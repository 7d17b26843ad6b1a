"""The exec protocol, sans-IO: byte tables, the state table, segmentation and garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.remote_exec.events import (
    Cancel,
    Error,
    Event,
    Exit,
    Queued,
    Reason,
    Run,
    Started,
    Stderr,
    Stdin,
    StdinEof,
    Stdout,
)
from services.remote_exec.protocol import ExecConnection, Role, State
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA

CLIENT_EVENTS = (Run, Stdin, StdinEof, Cancel)


def frame(kind: int, payload: bytes) -> bytes:
    """Kind byte, u32 big-endian length, payload: written out by hand, not by the codec."""
    return bytes([kind]) + len(payload).to_bytes(4, "big") + payload


# (event, exact bytes on the wire)
BYTE_TABLE: list[tuple[Event, bytes]] = [
    (Run("ls", "t"), b"\x01\x00\x00\x00\x1c" + b'{"command":"ls","token":"t"}'),
    (Run("cat", "t", timeout=2.5, stdin=True),
     frame(0x01, b'{"command":"cat","token":"t","timeout":2.5,"stdin":true}')),
    (Stdin(b"hi\n"), b"\x02\x00\x00\x00\x03hi\n"),
    (StdinEof(), b"\x03\x00\x00\x00\x00"),
    (Cancel(), b"\x04\x00\x00\x00\x00"),
    (Queued(1, 10.0), frame(0x10, b'{"position":1,"timeout":10.0}')),
    (Started(4242, 300.0, 1024),
     frame(0x11, b'{"pid":4242,"timeout":300.0,"output_limit":1024}')),
    (Stdout(b"out"), b"\x12\x00\x00\x00\x03out"),
    (Stderr(b""), b"\x13\x00\x00\x00\x00"),
    (Exit(0, None, Reason.EXIT, 0.5, 3, 0),
     frame(0x14, b'{"status":0,"signal":null,"reason":"exit","elapsed":0.5,'
                 b'"stdout_bytes":3,"stderr_bytes":0}')),
    (Exit(None, "SIGKILL", Reason.TIMEOUT, 2.0, 0, 0),
     frame(0x14, b'{"status":null,"signal":"SIGKILL","reason":"timeout","elapsed":2.0,'
                 b'"stdout_bytes":0,"stderr_bytes":0}')),
    (Error("busy", "full", False), frame(0x15, b'{"code":"busy","message":"full","fatal":false}')),
]


def server_and_client() -> tuple[ExecConnection, ExecConnection]:
    return ExecConnection(Role.SERVER), ExecConnection(Role.CLIENT)


def receive_all(proto: ExecConnection, data: bytes) -> list[object]:
    proto.receive_data(data)
    events = []
    while (event := proto.next_event()) is not NEED_DATA:
        events.append(event)
        if event is CLOSED:
            break
    return events


def ends_for(event: Event) -> tuple[ExecConnection, ExecConnection]:
    """(sender, receiver) of ``event``, brought to a state where it is allowed."""
    server, client = server_and_client()
    if not isinstance(event, Run):
        receive_all(server, client.send(Run("c", "t", stdin=True)))
        if not isinstance(event, Queued | Started | Cancel | Error):
            receive_all(client, server.send(Started(1, 1.0, 1)))
    return (client, server) if isinstance(event, CLIENT_EVENTS) else (server, client)


@pytest.mark.parametrize(("event", "wire"), BYTE_TABLE, ids=lambda v: type(v).__name__)
def test_byte_table_encodes_and_decodes(event: Event, wire: bytes) -> None:
    sender, receiver = ends_for(event)
    assert sender.send(event) == wire
    assert receive_all(receiver, wire) == [event]


SCRIPT: list[Event] = [
    Run("cat", "t", stdin=True), Queued(1, 10.0), Started(7, 30.0, 1 << 20),
    Stdin(b"abc"), Stdout(b"abc"), StdinEof(), Stderr(b"warning\n"),
    Exit(0, None, Reason.EXIT, 0.01, 3, 8),
    Run("sleep 9", "t"), Started(8, 30.0, 1 << 20), Cancel(),
    Exit(None, "SIGTERM", Reason.CANCELLED, 0.2, 0, 0),
    Run("x", "bad"), Error("auth-failed", "wrong token", fatal=True),
]


def sender_of(event: Event) -> Role:
    return Role.CLIENT if isinstance(event, CLIENT_EVENTS) else Role.SERVER


def test_the_script_is_a_valid_conversation() -> None:
    server, client = server_and_client()
    for event in SCRIPT:
        end, other = (client, server) if sender_of(event) is Role.CLIENT else (server, client)
        assert receive_all(other, end.send(event)) == [event]
    assert server.state is client.state is State.CLOSED


def peer_bytes_and_turns(role: Role) -> tuple[bytes, list[Event], list[list[Event]]]:
    """The peer's bytes in SCRIPT, its events, and ``role``'s sends after the n-th of them."""
    us, peer = ExecConnection(role), ExecConnection(
        Role.CLIENT if role is Role.SERVER else Role.SERVER)
    wire = bytearray()
    expected: list[Event] = []
    own_after: list[list[Event]] = [[]]  # [0]: before the peer's first event
    for event in SCRIPT:
        if sender_of(event) is role:
            receive_all(peer, us.send(event))
            own_after[-1].append(event)
        else:
            data = peer.send(event)
            wire += data
            receive_all(us, data)
            expected.append(event)
            own_after.append([])
    return bytes(wire), expected, own_after


@given(st.data(), st.sampled_from([Role.SERVER, Role.CLIENT]))
def test_every_segmentation_yields_the_same_events(data: st.DataObject, role: Role) -> None:
    """The peer's bytes, cut anywhere, decode to its events; our own sends interleave as live."""
    wire, expected, own_after = peer_bytes_and_turns(role)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=20)))
    proto = ExecConnection(role)
    for own in own_after[0]:
        proto.send(own)
    events: list[object] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        if end == start:
            continue  # b"" would mean EOF
        proto.receive_data(wire[start:end])
        while (event := proto.next_event()) is not NEED_DATA:
            events.append(event)
            for own in own_after[len(events)]:
                proto.send(own)
    proto.receive_data(b"")
    assert proto.next_event() is CLOSED
    assert events == expected


@given(st.binary(max_size=300), st.sampled_from([Role.SERVER, Role.CLIENT]))
def test_garbage_only_raises_remote_protocol_error(garbage: bytes, role: Role) -> None:
    proto = ExecConnection(role)
    try:
        receive_all(proto, garbage)
        receive_all(proto, b"")
    except RemoteProtocolError:
        with pytest.raises(RemoteProtocolError):  # and it stays broken
            proto.next_event()


@given(st.binary(max_size=200))
def test_garbage_after_a_valid_run_only_raises_remote_protocol_error(garbage: bytes) -> None:
    proto = ExecConnection(Role.SERVER)
    try:
        receive_all(proto, ExecConnection(Role.CLIENT).send(Run("ls", "t")) + garbage)
        receive_all(proto, b"")
    except RemoteProtocolError:
        pass


def test_oversized_control_frame_is_refused_at_the_header() -> None:
    proto = ExecConnection(Role.SERVER)
    proto.receive_data(b"\x01\x00\x01\x00\x01")  # RUN of 64 KiB + 1: no payload needed
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE


def test_cancel_with_a_payload_is_refused_at_the_header() -> None:
    proto = ExecConnection(Role.SERVER)
    proto.receive_data(b"\x04\x00\x00\x00\x01")
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE


def test_oversized_data_frame_is_refused_at_the_header() -> None:
    proto = ExecConnection(Role.CLIENT)
    proto.receive_data(b"\x12\x00\x10\x00\x01")
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.FRAME_TOO_LARGE


@pytest.mark.parametrize("wire", [
    b"\x99",  # unknown kind, known from its first byte
    b"\x01\x00\x00\x00\x02{}",  # RUN without fields
    b'\x01\x00\x00\x00\x1c{"command":"ls","token":1234}',
    b'\x01\x00\x00\x00\x2a{"command":"ls","token":"t","timeout":-1.0}',
])
def test_malformed_client_frames_are_bad_messages(wire: bytes) -> None:
    proto = ExecConnection(Role.SERVER)
    proto.receive_data(wire)
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.BAD_MESSAGE


def test_exit_needs_exactly_one_of_status_and_signal() -> None:
    proto = ExecConnection(Role.CLIENT)
    proto.send(Run("x", "t"))
    payload = (b'{"status":1,"signal":"SIGTERM","reason":"exit","elapsed":0,'
               b'"stdout_bytes":0,"stderr_bytes":0}')
    proto.receive_data(b"\x11\x00\x00\x00\x2a" + b'{"pid":1,"timeout":1.0,"output_limit":100}')
    assert isinstance(proto.next_event(), Started)
    proto.receive_data(bytes([0x14]) + len(payload).to_bytes(4, "big") + payload)
    with pytest.raises(RemoteProtocolError):
        proto.next_event()


def test_stdin_before_started_is_unexpected() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("cat", "t", stdin=True)))
    server.receive_data(b"\x02\x00\x00\x00\x01a")
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.code is ErrorCode.UNEXPECTED


def test_stdin_needs_a_run_that_asked_for_it() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("cat", "t")))
    receive_all(client, server.send(Started(1, 1.0, 1)))
    with pytest.raises(LocalProtocolError):
        client.send(Stdin(b"a"))
    server.receive_data(b"\x02\x00\x00\x00\x01a")
    with pytest.raises(RemoteProtocolError):
        server.next_event()


def test_a_second_run_while_one_runs_is_unexpected() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("a", "t")))
    server.receive_data(ExecConnection(Role.CLIENT).send(Run("b", "t")))
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.code is ErrorCode.UNEXPECTED


def test_in_flight_stdin_and_cancel_after_exit_are_dropped_by_the_server() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("cat", "t", stdin=True)))
    receive_all(client, server.send(Started(1, 1.0, 1)))
    crossing = client.send(Stdin(b"late")) + client.send(Cancel()) + client.send(StdinEof())
    receive_all(client, server.send(Exit(0, None, Reason.EXIT)))
    following = client.send(Run("next", "t"))
    assert receive_all(server, crossing + following) == [Run("next", "t")]


def test_stdin_after_stdin_eof_is_unexpected() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("cat", "t", stdin=True)))
    receive_all(client, server.send(Started(1, 1.0, 1)))
    receive_all(server, client.send(StdinEof()))
    server.receive_data(b"\x02\x00\x00\x00\x01a")
    with pytest.raises(RemoteProtocolError):
        server.next_event()


def test_non_fatal_error_answers_a_run_and_keeps_the_connection() -> None:
    server, client = server_and_client()
    receive_all(server, client.send(Run("a", "t")))
    assert receive_all(client, server.send(Error("busy", "full"))) == [Error("busy", "full")]
    assert client.state is server.state is State.IDLE


def test_an_unsolicited_error_must_be_fatal() -> None:
    server = ExecConnection(Role.SERVER)
    with pytest.raises(LocalProtocolError):
        server.send(Error("shutting-down", "bye", fatal=False))
    server.send(Error("shutting-down", "bye", fatal=True))
    assert server.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        server.send(Error("x", "", fatal=True))


def test_eof_inside_a_frame_is_truncated() -> None:
    proto = ExecConnection(Role.CLIENT)
    proto.receive_data(b"\x12\x00\x00\x00\x05ab")
    proto.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.TRUNCATED
