"""The protocol base: table lookup, local vs remote errors, the broken state, EOF."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.lines import LineDecoder
from services.wire.protocol import Connection, Role
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, NeedData


class State(enum.Enum):
    IDLE = "idle"
    ASKED = "asked"
    BROKEN = "broken"


@dataclass(frozen=True)
class Ask:
    text: str


@dataclass(frozen=True)
class Answer:
    text: str


Event = Ask | Answer
C, S = Role.CLIENT, Role.SERVER
TABLE: dict[tuple[State, Role, type], State] = {
    (State.IDLE, C, Ask): State.ASKED,
    (State.ASKED, S, Answer): State.IDLE,
}


class Echo(Connection[State, Event]):
    """A toy protocol on lines: ``?text`` asks, ``!text`` answers, at most 9 characters."""

    def __init__(self, role: Role, *, broken_state: State | None = None) -> None:
        self._lines = LineDecoder(16)
        super().__init__(role, TABLE, State.IDLE, self._lines, broken_state=broken_state)

    def _read_event(self) -> Event | NeedData | Closed:
        line = self._lines.next_line()
        if not isinstance(line, str):
            return line
        if line[:1] not in ("?", "!"):
            raise RemoteProtocolError(ErrorCode.BAD_MESSAGE, line)
        return Ask(line[1:]) if line[0] == "?" else Answer(line[1:])

    def _encode(self, event: Event) -> bytes:
        return ("?" if isinstance(event, Ask) else "!").encode() + event.text.encode() + b"\n"

    def _account(self, sender: Role, event: Event, new_state: State) -> State:
        if len(event.text) > 9:
            self._fail(sender, ErrorCode.BAD_MESSAGE, "too long")
        return new_state


def test_role_knows_its_peer() -> None:
    assert Role.CLIENT.peer is Role.SERVER
    assert Role.SERVER.peer is Role.CLIENT
    assert Echo(C).peer_role is S


def test_both_ends_follow_the_table() -> None:
    client, server = Echo(C), Echo(S)
    server.receive_data(client.send(Ask("hi")))
    assert server.next_event() == Ask("hi")
    assert (client.state, server.state) == (State.ASKED, State.ASKED)
    client.receive_data(server.send(Answer("yo")))
    assert client.next_event() == Answer("yo")
    assert client.next_event() is NEED_DATA
    assert (client.state, server.state) == (State.IDLE, State.IDLE)


def test_sending_out_of_turn_is_a_local_bad_state() -> None:
    server = Echo(S)
    with pytest.raises(LocalProtocolError) as info:
        server.send(Answer("early"))
    assert info.value.code is ErrorCode.BAD_STATE
    assert server.state is State.IDLE


def test_receiving_out_of_turn_is_a_remote_unexpected_message() -> None:
    client = Echo(C)
    client.receive_data(b"!early\n")
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.code is ErrorCode.UNEXPECTED


def test_accounting_errors_are_local_or_remote_by_sender() -> None:
    client, server = Echo(C), Echo(S)
    with pytest.raises(LocalProtocolError) as local:
        client.send(Ask("x" * 10))
    assert local.value.code is ErrorCode.BAD_MESSAGE
    server.receive_data(b"?" + b"x" * 10 + b"\n")
    with pytest.raises(RemoteProtocolError) as remote:
        server.next_event()
    assert remote.value.code is ErrorCode.BAD_MESSAGE


def test_a_remote_error_breaks_the_connection_for_good() -> None:
    server = Echo(S)
    server.receive_data(b"nonsense\n?fine\n")
    with pytest.raises(RemoteProtocolError) as first:
        server.next_event()
    with pytest.raises(RemoteProtocolError) as again:
        server.next_event()  # the valid line after it is never read
    assert again.value is first.value
    assert server.state is State.IDLE  # no broken state given: the state stays


def test_a_broken_state_is_entered_when_given() -> None:
    server = Echo(S, broken_state=State.BROKEN)
    server.receive_data(b"nonsense\n")
    with pytest.raises(RemoteProtocolError):
        server.next_event()
    assert server.state is State.BROKEN


def test_a_local_error_does_not_break_the_connection() -> None:
    client = Echo(C)
    with pytest.raises(LocalProtocolError):
        client.send(Answer("no"))
    client.send(Ask("ok"))
    client.receive_data(b"!fine\n")
    assert client.next_event() == Answer("fine")


def test_end_of_stream_goes_through_to_the_decoder() -> None:
    server = Echo(S)
    server.receive_data(b"?a\n?")
    assert server.buffered == 4
    assert server.next_event() == Ask("a")
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError):  # "?" then EOF: an Ask in state ASKED
        server.next_event()
    fresh = Echo(S)
    fresh.receive_data(b"")
    assert fresh.next_event() is CLOSED
