"""The upload protocol, sans-IO: byte tables, the state table, segmentations, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.upload.codec import Kind, decode_payload, encode_payload
from services.upload.events import (
    Data,
    End,
    Error,
    Event,
    FileInfo,
    Get,
    Info,
    ListFiles,
    Listing,
    Meta,
    Put,
    Ready,
    Stat,
    Stored,
)
from services.upload.protocol import (
    TRANSITIONS,
    Role,
    SizeOverrun,
    State,
    UploadConnection,
    wire_code,
)
from services.upload.session import listing_batches
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.frames import MAX_JSON_PAYLOAD
from services.wire.sentinels import CLOSED, NEED_DATA
from tests.support.segments import split

H = "ab" * 32  # a well-formed SHA-256 in hex

# (event, exact bytes on the wire): docs/reference/protocol/upload.md shows the same examples.
BYTE_TABLE: list[tuple[Event, bytes]] = [
    (Put("a.txt", 5, H), b"\x01\x00\x00\x00\x65"
     b'{"name":"a.txt","size":5,"sha256":"' + H.encode() + b'"}'),
    (Put("a.txt", 5, H, overwrite=True), b"\x01\x00\x00\x00\x76"
     b'{"name":"a.txt","size":5,"sha256":"' + H.encode() + b'","overwrite":true}'),
    (Ready(0), b'\x02\x00\x00\x00\x0c{"offset":0}'),
    (Data(b"hello"), b"\x03\x00\x00\x00\x05hello"),
    (End(), b"\x04\x00\x00\x00\x00"),
    (Put("a.txt", 5), b'\x01\x00\x00\x00\x19{"name":"a.txt","size":5}'),
    (End(H), b'\x04\x00\x00\x00\x4d{"sha256":"' + H.encode() + b'"}'),
    (Stored("a.txt", 5, H), b"\x05\x00\x00\x00\x65"
     b'{"name":"a.txt","size":5,"sha256":"' + H.encode() + b'"}'),
    (ListFiles(), b"\x06\x00\x00\x00\x02{}"),
    (Listing((FileInfo("a.txt", 5, 1.5),)), b"\x07\x00\x00\x00\x31"
     b'{"files":[{"name":"a.txt","size":5,"mtime":1.5}]}'),
    (Stat("a.txt"), b'\x08\x00\x00\x00\x10{"name":"a.txt"}'),
    (Info(FileInfo("a.txt", 5, 1.5, H)), b"\x09\x00\x00\x00\x71"
     b'{"name":"a.txt","size":5,"mtime":1.5,"sha256":"' + H.encode() + b'"}'),
    (Get("a.txt", 2), b'\x0a\x00\x00\x00\x1b{"name":"a.txt","offset":2}'),
    (Meta("a.txt", 5, H, 2), b"\x0b\x00\x00\x00\x70"
     b'{"name":"a.txt","size":5,"sha256":"' + H.encode() + b'","offset":2}'),
    (Error("exists", "no"), b'\x0c\x00\x00\x00\x2e{"code":"exists","message":"no","fatal":false}'),
    (Error("timeout", "slow", True),
     b'\x0c\x00\x00\x00\x30{"code":"timeout","message":"slow","fatal":true}'),
]


@pytest.mark.parametrize(("event", "wire"), BYTE_TABLE, ids=lambda v: type(v).__name__)
def test_byte_table(event: Event, wire: bytes) -> None:
    payload = encode_payload(event)
    assert wire[5:] == payload
    assert wire[1:5] == len(payload).to_bytes(4, "big")
    assert decode_payload(wire[0], payload) == event


class Pair:
    """A client and a server connection wired together without a network."""

    def __init__(self) -> None:
        self.client = UploadConnection(Role.CLIENT)
        self.server = UploadConnection(Role.SERVER)

    def send(self, sender: UploadConnection, event: Event) -> list[object]:
        receiver = self.server if sender is self.client else self.client
        receiver.receive_data(sender.send(event))
        events: list[object] = []
        while (got := receiver.next_event()) is not NEED_DATA:
            events.append(got)
        return events


def test_upload_conversation_and_states() -> None:
    pair = Pair()
    assert pair.send(pair.client, Put("a", 5, H)) == [Put("a", 5, H)]
    assert pair.client.state is pair.server.state is State.PUT_SENT
    pair.send(pair.server, Ready(2))
    assert pair.server.transfer_left == 3
    assert pair.send(pair.client, Data(b"cde")) == [Data(b"cde")]
    pair.send(pair.client, End())
    assert pair.server.state is State.UPLOAD_ENDED
    pair.send(pair.server, Stored("a", 5, H))
    assert pair.client.state is pair.server.state is State.IDLE


def test_download_and_listing_conversations() -> None:
    pair = Pair()
    pair.send(pair.client, Get("a", 1))
    pair.send(pair.server, Meta("a", 3, H, 1))
    assert pair.send(pair.server, Data(b"bc")) == [Data(b"bc")]
    pair.send(pair.server, End())
    pair.send(pair.client, ListFiles())
    pair.send(pair.server, Listing(()))
    pair.send(pair.server, Listing((FileInfo("a", 3, 0.0),)))
    pair.send(pair.server, End())
    pair.send(pair.client, Stat("a"))
    pair.send(pair.server, Error("not-found", "no"))
    assert pair.client.state is pair.server.state is State.IDLE


def test_answering_error_keeps_the_connection_but_error_mid_upload_is_fatal() -> None:
    pair = Pair()
    pair.send(pair.client, Put("a", 5, H))
    pair.send(pair.server, Error("exists", "taken"))
    assert pair.client.state is State.IDLE
    pair.send(pair.client, Put("a", 5, H))
    pair.send(pair.server, Ready(0))
    pair.send(pair.server, Error("shutting-down", "bye", fatal=True))
    assert pair.client.state is pair.server.state is State.CLOSED
    with pytest.raises(LocalProtocolError):
        pair.client.send(Data(b"x"))


def test_end_before_the_declared_size_is_allowed_and_answered() -> None:
    pair = Pair()
    pair.send(pair.client, Put("a", 5, H))
    pair.send(pair.server, Ready(0))
    pair.send(pair.client, Data(b"ab"))
    assert pair.send(pair.client, End()) == [End()]
    pair.send(pair.server, Error("size-mismatch", "short"))
    assert pair.server.state is State.IDLE


def test_more_data_than_declared_is_refused_at_the_frame_header() -> None:
    server = UploadConnection(Role.SERVER)
    client = UploadConnection(Role.CLIENT)
    server.receive_data(client.send(Put("a", 3, H)))
    assert isinstance(server.next_event(), Put)
    client.receive_data(server.send(Ready(0)))
    client.next_event()
    with pytest.raises(LocalProtocolError):
        client.send(Data(b"abcd"))
    server.receive_data(b"\x03\x00\x00\x00\x04")  # header only: 4 > 3 left
    with pytest.raises(SizeOverrun) as info:
        server.next_event()
    assert wire_code(info.value) == "size-mismatch"
    assert server.state is State.BROKEN
    assert server.send(Error("size-mismatch", "too much", fatal=True))  # one last ERROR
    assert server.state is State.CLOSED


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (b"\x03\x00\x00\x00\x01x", ErrorCode.UNEXPECTED),  # DATA with no upload
        (b"\x02\x00\x00\x00\x0c" + b'{"offset":0}', ErrorCode.UNEXPECTED),  # READY from a client
        (b"\x04\x00\x00\x00\x00", ErrorCode.UNEXPECTED),  # END with no upload
        (b"\x7f\x00\x00\x00\x02{}", ErrorCode.BAD_MESSAGE),  # unknown kind
        (b"\x01\x00\x01\x00\x01", ErrorCode.FRAME_TOO_LARGE),  # control frame > 64 KiB
        (b"\x01\x00\x00\x00\x02[]", ErrorCode.BAD_MESSAGE),
        (b'\x08\x00\x00\x00\x0a{"name":1}', ErrorCode.BAD_MESSAGE),
        (b'\x0a\x00\x00\x00\x18{"name":"a","offset":-1}', ErrorCode.BAD_MESSAGE),
        (b"\x01\x00\x00", ErrorCode.TRUNCATED),
    ],
)
def test_server_refuses_bad_frames(wire: bytes, code: ErrorCode) -> None:
    server = UploadConnection(Role.SERVER)
    server.receive_data(wire)
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as info:
        server.next_event()
    assert info.value.code is code
    with pytest.raises(RemoteProtocolError):  # stays broken
        server.next_event()


@pytest.mark.parametrize(
    "put",
    [
        {"name": "a", "size": 1, "sha256": "xyz"},
        {"name": "a", "size": -1, "sha256": H},
        {"name": "a", "size": 1 << 63, "sha256": H},
        {"name": "a", "size": True, "sha256": H},
        {"name": "a", "size": 1, "sha256": H, "overwrite": "yes"},
        {"size": 1, "sha256": H},
    ],
)
def test_put_fields_are_checked(put: dict[str, object]) -> None:
    import json

    with pytest.raises(RemoteProtocolError) as info:
        decode_payload(Kind.PUT, json.dumps(put).encode())
    assert info.value.code is ErrorCode.BAD_MESSAGE


def test_client_checks_the_server_offsets() -> None:
    client = UploadConnection(Role.CLIENT)
    client.send(Put("a", 3, H))
    client.receive_data(b'\x02\x00\x00\x00\x0c{"offset":4}')
    with pytest.raises(RemoteProtocolError):
        client.next_event()
    client = UploadConnection(Role.CLIENT)
    client.send(Get("a", 1))
    client.receive_data(encode_frame(Kind.META, Meta("a", 3, H, 0)))
    with pytest.raises(RemoteProtocolError):
        client.next_event()


def test_download_ending_short_is_truncation() -> None:
    client = UploadConnection(Role.CLIENT)
    client.send(Get("a"))
    client.receive_data(encode_frame(Kind.META, Meta("a", 3, H, 0)) + b"\x04\x00\x00\x00\x00")
    assert isinstance(client.next_event(), Meta)
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.code is ErrorCode.TRUNCATED


def test_send_data_header_accounts_like_data() -> None:
    client = UploadConnection(Role.CLIENT)
    client.send(Put("a", 3, H))
    client.receive_data(b'\x02\x00\x00\x00\x0c{"offset":0}')
    client.next_event()
    assert client.send_data_header(3) == b"\x03\x00\x00\x00\x03"
    with pytest.raises(LocalProtocolError):
        client.send_data_header(1)
    assert client.send(End())


def test_state_table_has_a_way_back_to_idle_from_every_request() -> None:
    states = {state for state, _, _ in TRANSITIONS} | set(TRANSITIONS.values())
    for state in states - {State.CLOSED}:
        reachable, frontier = {state}, [state]
        while frontier:
            current = frontier.pop()
            for (source, _, _), target in TRANSITIONS.items():
                if source is current and target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        assert State.IDLE in reachable or State.CLOSED in reachable


def test_listing_is_split_to_fit_control_frames() -> None:
    files = [FileInfo("f" * 200 + str(i), i, 0.0) for i in range(1000)]
    batches = listing_batches(files)
    assert len(batches) > 1
    assert [f for b in batches for f in b.files] == files
    assert all(len(encode_payload(b)) <= MAX_JSON_PAYLOAD for b in batches)
    assert listing_batches([]) == [Listing(())]


def encode_frame(kind: int, event: Event) -> bytes:
    payload = encode_payload(event)
    return bytes([kind]) + len(payload).to_bytes(4, "big") + payload


# -- segmentations and garbage ---------------------------------------------------

def conversation(sizes: list[int]) -> tuple[bytes, list[Event]]:
    """A client's side of several uploads: PUT, DATA frames, END, each answered READY 0."""
    wire = b""
    events: list[Event] = []
    for number, size in enumerate(sizes):
        body = bytes(range(256)) * (size // 256) + bytes(size % 256)
        put = Put(f"f{number}", size, H)
        wire += encode_frame(Kind.PUT, put)
        events.append(put)
        for start in range(0, size, 100):
            wire += encode_frame(Kind.DATA, Data(body[start : start + 100]))
        events.append(Data(body))
        wire += b"\x04\x00\x00\x00\x00"
        events.append(End())
    return wire, events


def feed_server(chunks: list[bytes], answer: bool = True) -> list[object]:
    """Run a server connection over ``chunks``, answering READY/STORED; merge DATA parts."""
    server = UploadConnection(Role.SERVER)
    events: list[object] = []
    for chunk in [*(c for c in chunks if c), b""]:
        server.receive_data(chunk)
        while True:
            try:
                event = server.next_event()
            except RemoteProtocolError as exc:
                events.append(exc.code)
                return events
            if event is NEED_DATA:
                break
            if isinstance(event, Data) and events and isinstance(events[-1], Data):
                events[-1] = Data(bytes(events[-1].data) + bytes(event.data))
            elif isinstance(event, Data) and not event.data:
                continue
            else:
                events.append(event)
            if event is CLOSED:
                return events
            if answer and isinstance(event, Put):
                server.send(Ready(0))
                if event.size == 0:
                    events.append(Data(b""))
            elif answer and isinstance(event, End):
                server.send(Stored("x", 0, H))
    return events



@given(st.lists(st.integers(0, 700), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0), max_size=30))
def test_every_segmentation_yields_the_same_events(sizes: list[int], cuts: list[int]) -> None:
    wire, expected = conversation(sizes)
    assert feed_server(split(wire, cuts)) == [*expected, CLOSED]


@given(st.lists(st.binary(max_size=80), max_size=20), st.sampled_from(list(Role)))
def test_garbage_only_raises_protocol_errors(chunks: list[bytes], role: Role) -> None:
    conn = UploadConnection(role)
    if role is Role.CLIENT:  # a client has a request outstanding
        conn.send(Get("a"))
    for chunk in [*(c for c in chunks if c), b""]:
        conn.receive_data(chunk)
        try:
            while conn.next_event() not in (NEED_DATA, CLOSED):
                pass
        except RemoteProtocolError:
            return


@given(st.lists(st.tuples(st.sampled_from(list(Kind)), st.binary(max_size=40)), max_size=8))
def test_well_framed_garbage_only_raises_protocol_errors(
    frames: list[tuple[Kind, bytes]],
) -> None:
    wire = b"".join(bytes([k]) + len(p).to_bytes(4, "big") + p for k, p in frames)
    events = feed_server([wire], answer=False)
    assert events[-1] is CLOSED or isinstance(events[-1], ErrorCode)


@given(st.binary(max_size=3000), st.integers(0, 3000),
       st.lists(st.integers(min_value=0), max_size=30))
def test_every_segmentation_of_a_download_yields_the_same_events(
    body: bytes, offset: int, cuts: list[int]
) -> None:
    offset = min(offset, len(body))
    files = (FileInfo("f", len(body), 1.0),)
    server, driver = UploadConnection(Role.SERVER), UploadConnection(Role.CLIENT)
    server.receive_data(driver.send(Get("f", offset)))
    server.next_event()
    wire = server.send(Meta("f", len(body), H, offset))
    for start in range(offset, len(body), 700):
        wire += server.send(Data(body[start : start + 700]))
    wire += server.send(End())
    driver.receive_data(wire)
    while driver.next_event() is not NEED_DATA:
        pass
    server.receive_data(driver.send(ListFiles()))
    server.next_event()
    wire += server.send(Listing(files)) + server.send(End())

    client = UploadConnection(Role.CLIENT)
    client.send(Get("f", offset))
    events: list[object] = []
    for chunk in [*split(wire, cuts), b""]:
        if chunk:
            client.receive_data(chunk)
        while (event := client.next_event()) not in (NEED_DATA, CLOSED):
            if isinstance(event, Data) and events and isinstance(events[-1], Data):
                events[-1] = Data(bytes(events[-1].data) + bytes(event.data))
            elif not (isinstance(event, Data) and not event.data):
                events.append(event)
            if isinstance(event, End) and len(events) <= 3:
                client.send(ListFiles())  # the download is over: next request
    data_events = [Data(body[offset:])] if body[offset:] else []
    assert events == [Meta("f", len(body), H, offset), *data_events, End(), Listing(files), End()]


def test_an_upload_may_declare_its_digest_at_end_instead() -> None:
    pair = Pair()
    assert pair.send(pair.client, Put("a", 3)) == [Put("a", 3)]
    pair.send(pair.server, Ready(0))
    pair.send(pair.client, Data(b"abc"))
    assert pair.send(pair.client, End(H)) == [End(H)]
    pair.send(pair.server, Stored("a", 3, H))
    assert pair.client.state is pair.server.state is State.IDLE


@pytest.mark.parametrize(("put", "end"), [(Put("a", 1), End()), (Put("a", 1, H), End(H))],
                         ids=["neither", "both"])
def test_the_digest_is_declared_exactly_once(put: Put, end: End) -> None:
    client, server = UploadConnection(Role.CLIENT), UploadConnection(Role.SERVER)
    server.receive_data(client.send(put))
    assert server.next_event() == put
    client.receive_data(server.send(Ready(0)))
    assert client.next_event() == Ready(0)
    server.receive_data(client.send(Data(b"x")))
    assert server.next_event() == Data(b"x")
    with pytest.raises(LocalProtocolError):
        client.send(end)
    server.receive_data(encode_frame(Kind.END, end))
    with pytest.raises(RemoteProtocolError) as caught:
        server.next_event()
    assert caught.value.code is ErrorCode.BAD_MESSAGE


def test_only_an_upload_end_carries_a_digest() -> None:
    pair = Pair()
    pair.send(pair.client, ListFiles())
    pair.send(pair.server, Listing(()))
    pair.client.receive_data(encode_frame(Kind.END, End(H)))
    with pytest.raises(RemoteProtocolError):
        pair.client.next_event()


def test_an_end_digest_must_be_a_sha256() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_payload(Kind.END, b'{"sha256":"nope"}')
