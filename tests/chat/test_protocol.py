"""The chat line protocol: byte tables, random segmentations, garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.chat.codec import encode_client_event, encode_server_event, parse_server_line
from services.chat.events import (
    Bye,
    ChatCode,
    ClientEvent,
    Error,
    Help,
    HelpText,
    Invalid,
    Join,
    Joined,
    Left,
    ListRooms,
    Message,
    Private,
    Quit,
    Renamed,
    RoomList,
    Say,
    ServerEvent,
    SetNick,
    Tell,
    Welcome,
    Who,
    WhoList,
)
from services.chat.protocol import ClientProtocol, ServerProtocol
from services.wire import CLOSED, NEED_DATA, ErrorCode, LocalProtocolError, RemoteProtocolError
from tests.support.segments import split

SERVER_LINES: list[tuple[ServerEvent, bytes]] = [
    (Message("lobby", "alice", "hello"), b"[#lobby] <alice> hello\n"),
    (Message("dev", "bob", "  spaced  "), b"[#dev] <bob>   spaced  \n"),
    (Message("lobby", "alice", "\u4f60\u597d"), "[#lobby] <alice> \u4f60\u597d\n".encode()),
    (Private("bob", "alice", "psst"), b"[@bob] <alice> psst\n"),
    (Private("alice", "operator", "hi"), b"[@alice] <operator> hi\n"),
    (Joined("lobby", "alice"), b"* alice joined #lobby\n"),
    (Left("lobby", "alice"), b"* alice left #lobby\n"),
    (Left("lobby", "bob", "quit: gone (home)"), b"* bob left #lobby (quit: gone (home))\n"),
    (Left("lobby", "carl", "slow-consumer"), b"* carl left #lobby (slow-consumer)\n"),
    (Renamed("guest-1", "alice"), b"* guest-1 is now alice\n"),
    (Welcome("guest-7", "lobby"), b"= welcome guest-7 #lobby\n"),
    (RoomList(2, (("dev", 1), ("lobby", 3))), b"= rooms 2 #dev:1 #lobby:3\n"),
    (RoomList(0, ()), b"= rooms 0\n"),
    (WhoList("lobby", 3, ("alice", "bob")), b"= who #lobby 3 alice bob\n"),
    (WhoList("empty", 0, ()), b"= who #empty 0\n"),
    (HelpText("commands: /nick NAME"), b"= help commands: /nick NAME\n"),
    (Bye(), b"= bye\n"),
    (Error("line-too-long", "line longer than 2048 bytes"),
     b"! line-too-long: line longer than 2048 bytes\n"),
    (Error("nick-taken", "alice is taken"), b"! nick-taken: alice is taken\n"),
]

CLIENT_LINES: list[tuple[bytes, ClientEvent]] = [
    (b"hello\n", Say("hello")),
    (b"hello\r\n", Say("hello")),
    (b"//me waves\n", Say("/me waves")),
    (b"/nick alice\n", SetNick("alice")),
    (b"/NICK alice\n", SetNick("alice")),
    (b"/join #dev\n", Join("dev")),
    (b"/join dev\n", Join("dev")),
    (b"/rooms\n", ListRooms()),
    (b"/who\n", Who()),
    (b"/help\n", Help()),
    (b"/msg bob see you\n", Tell("bob", "see you")),
    (b"/quit\n", Quit()),
    (b"/quit off to bed\n", Quit("off to bed")),
    (b"tab\there\n", Say("tab\there")),
    (b"bell\x07 and \x1b[31mred\n", Say("bell\ufffd and \ufffd[31mred")),
    (b"/frobnicate\n", Invalid(ChatCode.UNKNOWN_COMMAND, "no command /frobnicate; try /help")),
    (b"/nick\n", Invalid(ChatCode.BAD_ARGUMENTS, "usage: /nick NAME")),
    (b"/nick a b\n", Invalid(ChatCode.BAD_ARGUMENTS, "usage: /nick NAME")),
    (b"/who me\n", Invalid(ChatCode.BAD_ARGUMENTS, "usage: /who")),
    (b"/msg bob\n", Invalid(ChatCode.BAD_ARGUMENTS, "usage: /msg NICK TEXT")),
]


def server_events(data: bytes, chunks: list[int] | None = None) -> list[object]:
    """Feed ``data`` to a ServerProtocol in pieces, then EOF; every event."""
    proto = ServerProtocol()
    return _drain(proto, data, chunks)


def client_events(data: bytes, chunks: list[int] | None = None) -> list[object]:
    proto = ClientProtocol()
    return _drain(proto, data, chunks)


def _drain(
    proto: ServerProtocol | ClientProtocol, data: bytes, cuts: list[int] | None
) -> list[object]:
    pieces = split(data, cuts or [])
    out: list[object] = []
    for piece in [*pieces, b""]:
        proto.receive_data(piece)
        while (event := proto.next_event()) is not NEED_DATA:
            if event is CLOSED:
                return out
            out.append(event)
    raise AssertionError("no CLOSED after EOF")


@pytest.mark.parametrize(("event", "wire"), SERVER_LINES)
def test_server_line_bytes(event: ServerEvent, wire: bytes) -> None:
    assert encode_server_event(event) == wire
    assert client_events(wire) == [event]


@pytest.mark.parametrize(("wire", "event"), CLIENT_LINES)
def test_client_line_meaning(wire: bytes, event: ClientEvent) -> None:
    assert server_events(wire) == [event]


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (Say("hello"), b"hello\n"),
        (Say("/not a command"), b"//not a command\n"),
        (SetNick("alice"), b"/nick alice\n"),
        (Join("dev"), b"/join dev\n"),
        (Tell("bob", "hi"), b"/msg bob hi\n"),
        (Quit(), b"/quit\n"),
        (ListRooms(), b"/rooms\n"),
        (Who(), b"/who\n"),
        (Help(), b"/help\n"),
    ],
)
def test_client_encoding_round_trips(event: ClientEvent, wire: bytes) -> None:
    assert encode_client_event(event) == wire
    assert server_events(wire) == [event]


@pytest.mark.parametrize(
    "event", [Say("two\nlines"), Say("   "), SetNick("bad nick"), Join("#x y"), Tell("a b", "x")]
)
def test_client_refuses_to_encode_invalid_events(event: ClientEvent) -> None:
    with pytest.raises(LocalProtocolError):
        encode_client_event(event)


def test_blank_lines_are_ignored() -> None:
    assert server_events(b"\n  \r\n\thello\n") == [Say("\thello")]


def test_bad_nick_and_room_are_invalid_not_errors() -> None:
    [nick] = server_events(b"/nick -x\n")
    [room] = server_events(b"/join a:b\n")
    assert isinstance(nick, Invalid) and nick.code is ChatCode.BAD_NICK
    assert isinstance(room, Invalid) and room.code is ChatCode.BAD_ROOM


def test_oversized_line_is_refused_and_the_next_line_still_parses() -> None:
    proto = ServerProtocol(max_line=10)
    proto.receive_data(b"x" * 50 + b"\nok\n")
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.LINE_TOO_LONG
    assert proto.next_event() == Say("ok")


def test_bad_utf8_is_refused_for_that_line_only() -> None:
    proto = ServerProtocol()
    proto.receive_data(b"\xff\xfe\nfine\n")
    with pytest.raises(RemoteProtocolError) as info:
        proto.next_event()
    assert info.value.code is ErrorCode.BAD_ENCODING
    assert proto.next_event() == Say("fine")


def test_unterminated_last_line_counts_at_eof() -> None:
    assert server_events(b"one\ntwo") == [Say("one"), Say("two")]


@pytest.mark.parametrize(
    "line",
    [b"hello", b"[#lobby] alice hello", b"* alice joined lobby", b"= rooms x",
     b"! Bad: x", b"= who #lobby", b"[#lo bby] <a> x", b"* a is now b c"],
)
def test_client_rejects_lines_outside_the_grammar(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        client_events(line + b"\n")
    assert info.value.code is ErrorCode.BAD_MESSAGE


ALL_SERVER_BYTES = b"".join(wire for _, wire in SERVER_LINES)
ALL_CLIENT_BYTES = b"".join(wire for wire, _ in CLIENT_LINES)


@given(st.lists(st.integers(min_value=0, max_value=len(ALL_SERVER_BYTES)), max_size=30))
def test_every_split_of_server_bytes_yields_the_same_events(cuts: list[int]) -> None:
    assert client_events(ALL_SERVER_BYTES, cuts) == [event for event, _ in SERVER_LINES]


@given(st.lists(st.integers(min_value=0, max_value=len(ALL_CLIENT_BYTES)), max_size=30))
def test_every_split_of_client_bytes_yields_the_same_events(cuts: list[int]) -> None:
    assert server_events(ALL_CLIENT_BYTES, cuts) == [event for _, event in CLIENT_LINES]


names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,23}", fullmatch=True)
texts = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200
).filter(lambda t: t.strip() != "")


@given(room=names, nick=names, text=texts)
def test_any_message_round_trips(room: str, nick: str, text: str) -> None:
    event = Message(room, nick, text)
    assert parse_server_line(encode_server_event(event)[:-1].decode()) == event


@given(text=texts)
def test_any_said_text_arrives_unchanged(text: str) -> None:
    assert server_events(encode_client_event(Say(text))) == [Say(text)]


@given(st.binary(max_size=400), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_garbage_never_crashes_the_server_parser(data: bytes, cuts: list[int]) -> None:
    proto = ServerProtocol(max_line=64)
    for piece in [*split(data, cuts), b""]:
        proto.receive_data(piece)
        while True:
            try:
                event = proto.next_event()
            except RemoteProtocolError:
                continue
            if event is NEED_DATA or event is CLOSED:
                break
            assert isinstance(
                event, (Say, SetNick, Join, ListRooms, Who, Tell, Quit, Help, Invalid)
            )


@given(st.binary(max_size=400))
def test_garbage_never_crashes_the_client_parser(data: bytes) -> None:
    proto = ClientProtocol(max_line=64)
    proto.receive_data(data)
    proto.receive_data(b"")
    while True:
        try:
            event = proto.next_event()
        except RemoteProtocolError:
            continue
        if event is CLOSED:
            break
        assert event is not NEED_DATA
