"""One error model for every service (pure tier): byte tables of what each end refuses.

The same fault gets the same code in exec and upload; every ERROR says
whether the connection closes (``fatal``); the JSON rules hold for each
service's fields; each service's error table covers every code it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from services.chat import codec as chat_codec
from services.chat.client import FAREWELL_CODES
from services.chat.events import ERRORS as CHAT_ERRORS
from services.chat.events import ChatCode
from services.chat.events import Error as ChatError
from services.remote_exec import events as exec_events
from services.remote_exec.protocol import ExecConnection
from services.remote_exec.protocol import Role as ExecRole
from services.remote_exec.protocol import State as ExecState
from services.upload import events as upload_events
from services.upload.protocol import Role as UploadRole
from services.upload.protocol import State as UploadState
from services.upload.protocol import UploadConnection
from services.wire.errors import ErrorCode, ErrorSpec, LocalProtocolError, RemoteProtocolError
from services.wire.sentinels import NEED_DATA

H = "ab" * 32


def frame(kind: int, payload: bytes) -> bytes:
    """Kind byte, u32 big-endian length, payload: written by hand, not by a codec."""
    return bytes([kind]) + len(payload).to_bytes(4, "big") + payload


def exec_server() -> ExecConnection:
    return ExecConnection(ExecRole.SERVER)


def upload_server() -> UploadConnection:
    return UploadConnection(UploadRole.SERVER)


def exec_client_running() -> ExecConnection:
    client = ExecConnection(ExecRole.CLIENT)
    client.send(exec_events.Run("x", "t"))
    client.receive_data(frame(0x11, b'{"pid":7,"timeout":1.0,"output_limit":9}'))
    assert isinstance(client.next_event(), exec_events.Started)
    return client


def upload_client_after(request: object) -> UploadConnection:
    client = UploadConnection(UploadRole.CLIENT)
    client.send(request)
    return client


Make = Callable[[], ExecConnection | UploadConnection]

# (who receives, the bytes, the code): a server's view of a client's mistakes and a
# client's of a server's, the same fault with the same code in both services.
REFUSED: list[tuple[str, Make, bytes, ErrorCode]] = [
    # A kind nobody sends.
    ("exec unknown kind", exec_server, b"\x99", ErrorCode.BAD_MESSAGE),
    ("upload unknown kind", upload_server, b"\x99", ErrorCode.BAD_MESSAGE),
    ("upload unknown kind 0", upload_server, b"\x00", ErrorCode.BAD_MESSAGE),
    # A kind only the server sends, sent by a client: refused from its first byte.
    ("exec STARTED from a client", exec_server, b"\x11", ErrorCode.UNEXPECTED),
    ("exec STDOUT from a client", exec_server, b"\x12\x00\x00\x00\x01x", ErrorCode.UNEXPECTED),
    ("exec ERROR from a client", exec_server, b"\x15", ErrorCode.UNEXPECTED),
    ("upload READY from a client", upload_server, b"\x02", ErrorCode.UNEXPECTED),
    ("upload ERROR from a client", upload_server, b"\x0c", ErrorCode.UNEXPECTED),
    # A kind only a client sends, sent by a server.
    ("exec RUN from a server", exec_client_running, b"\x01", ErrorCode.UNEXPECTED),
    ("upload PUT from a server", lambda: upload_client_after(upload_events.ListFiles()),
     b"\x01", ErrorCode.UNEXPECTED),
    # A message the state does not allow.
    ("exec STDIN in IDLE", exec_server, b"\x02\x00\x00\x00\x01x", ErrorCode.UNEXPECTED),
    ("upload DATA in IDLE", upload_server, b"\x03\x00\x00\x00\x01x", ErrorCode.UNEXPECTED),
    ("upload END in IDLE", upload_server, b"\x04\x00\x00\x00\x00", ErrorCode.UNEXPECTED),
    # The JSON rules, in each service's own fields.
    ("exec duplicate key", exec_server,
     frame(0x01, b'{"command":"ls","token":"t","command":"rm"}'), ErrorCode.BAD_MESSAGE),
    ("upload duplicate key", upload_server,
     frame(0x01, b'{"name":"a","size":1,"size":2}'), ErrorCode.BAD_MESSAGE),
    ("exec NaN timeout", exec_server,
     frame(0x01, b'{"command":"ls","token":"t","timeout":NaN}'), ErrorCode.BAD_MESSAGE),
    ("exec Infinity timeout", exec_server,
     frame(0x01, b'{"command":"ls","token":"t","timeout":Infinity}'), ErrorCode.BAD_MESSAGE),
    ("exec boolean timeout", exec_server,
     frame(0x01, b'{"command":"ls","token":"t","timeout":true}'), ErrorCode.BAD_MESSAGE),
    ("exec stdin not boolean", exec_server,
     frame(0x01, b'{"command":"ls","token":"t","stdin":1}'), ErrorCode.BAD_MESSAGE),
    ("upload size 4.0", upload_server, frame(0x01, b'{"name":"a","size":4.0}'),
     ErrorCode.BAD_MESSAGE),
    ("upload size 1e3", upload_server, frame(0x01, b'{"name":"a","size":1e3}'),
     ErrorCode.BAD_MESSAGE),
    ("upload size true", upload_server, frame(0x01, b'{"name":"a","size":true}'),
     ErrorCode.BAD_MESSAGE),
    ("upload size null (missing)", upload_server, frame(0x01, b'{"name":"a","size":null}'),
     ErrorCode.BAD_MESSAGE),
    ("upload offset -1", upload_server, frame(0x0A, b'{"name":"a","offset":-1}'),
     ErrorCode.BAD_MESSAGE),
    ("upload overwrite 1", upload_server, frame(0x01, b'{"name":"a","size":1,"overwrite":1}'),
     ErrorCode.BAD_MESSAGE),
    ("exec lone surrogate", exec_server,
     frame(0x01, b'{"command":"ls \\ud800","token":"t"}'), ErrorCode.BAD_ENCODING),
    ("upload lone surrogate", upload_server, frame(0x08, b'{"name":"\\udfff"}'),
     ErrorCode.BAD_ENCODING),
    ("exec not UTF-8", exec_server, frame(0x01, b'{"command":"\xff","token":"t"}'),
     ErrorCode.BAD_ENCODING),
    ("upload not UTF-8", upload_server, frame(0x08, b'{"name":"\xff"}'), ErrorCode.BAD_ENCODING),
    ("exec payload on CANCEL", exec_server, frame(0x04, b"{}"), ErrorCode.FRAME_TOO_LARGE),
    ("upload LIST not an object", upload_server, frame(0x06, b"[]"), ErrorCode.BAD_MESSAGE),
    # ERROR, as a client reads it.
    ("exec ERROR fatal false while running", exec_client_running,
     frame(0x15, b'{"code":"busy","message":"","fatal":false}'), ErrorCode.BAD_MESSAGE),
    ("upload ERROR fatal false unprompted", lambda: UploadConnection(UploadRole.CLIENT),
     frame(0x0C, b'{"code":"busy","message":"","fatal":false}'), ErrorCode.BAD_MESSAGE),
    ("upload ERROR fatal not boolean", lambda: upload_client_after(upload_events.Stat("a")),
     frame(0x0C, b'{"code":"not-found","message":"","fatal":"no"}'), ErrorCode.BAD_MESSAGE),
    ("upload ERROR empty code", lambda: upload_client_after(upload_events.Stat("a")),
     frame(0x0C, b'{"code":"","message":"","fatal":false}'), ErrorCode.BAD_MESSAGE),
    ("upload ERROR code over 64", lambda: upload_client_after(upload_events.Stat("a")),
     frame(0x0C, b'{"code":"' + b"x" * 65 + b'","fatal":false}'), ErrorCode.BAD_MESSAGE),
    ("exec ERROR code missing", exec_client_running, frame(0x15, b'{"fatal":true}'),
     ErrorCode.BAD_MESSAGE),
]


@pytest.mark.parametrize(("make", "wire", "code"), [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_the_same_fault_gets_the_same_code(make: Make, wire: bytes, code: ErrorCode) -> None:
    conn = make()
    conn.receive_data(wire)
    with pytest.raises(RemoteProtocolError) as info:
        while conn.next_event() is not NEED_DATA:
            pass
    assert info.value.code is code


def read(conn: ExecConnection | UploadConnection, wire: bytes) -> object:
    conn.receive_data(wire)
    event = conn.next_event()
    assert conn.next_event() is NEED_DATA
    return event


# Fields the receiver does not know are ignored; null is the same as absent.
def test_exec_ignores_unknown_fields_and_reads_null_as_absent() -> None:
    run = read(exec_server(), frame(
        0x01, b'{"command":"ls","token":"t","timeout":null,"stdin":null,"priority":9,'
              b'"env":{"A":"1"}}'))
    assert run == exec_events.Run("ls", "t", timeout=None, stdin=False)


def test_upload_ignores_unknown_fields_and_reads_null_as_absent() -> None:
    put = read(upload_server(), frame(
        0x01, b'{"name":"a","size":1,"sha256":null,"overwrite":null,"resume":null,"mode":420}'))
    assert put == upload_events.Put("a", 1)
    get = read(upload_server(), frame(0x0A, b'{"name":"a","offset":null}'))
    assert get == upload_events.Get("a", 0)
    listing = read(upload_client_after(upload_events.ListFiles()), frame(
        0x07, b'{"files":[{"name":"a","size":1,"mtime":2,"owner":"x","sha256":null}],"more":1}'))
    assert listing == upload_events.Listing((upload_events.FileInfo("a", 1, 2.0),))


def test_an_upload_end_with_an_object_but_no_digest_is_an_empty_end() -> None:
    server = upload_server()
    read(server, frame(0x01, b'{"name":"a","size":0,"sha256":"' + H.encode() + b'"}'))
    server.send(upload_events.Ready(0))
    assert read(server, frame(0x04, b'{"sha256":null}')) == upload_events.End()


def test_an_upload_request_name_may_be_any_length_the_server_judges_it() -> None:
    name = "n" * 5000  # over 4096 characters: bad-name from the server, not bad-message
    assert read(upload_server(), frame(0x08, b'{"name":"' + name.encode() + b'"}')) == \
        upload_events.Stat(name)


def test_a_second_request_before_the_answer_is_unexpected() -> None:
    exec_conn = exec_server()
    read(exec_conn, frame(0x01, b'{"command":"sleep 1","token":"t"}'))
    with pytest.raises(RemoteProtocolError) as info:
        read(exec_conn, frame(0x01, b'{"command":"ls","token":"t"}'))
    assert info.value.code is ErrorCode.UNEXPECTED
    upload_conn = upload_server()
    read(upload_conn, frame(0x01, b'{"name":"a","size":3,"sha256":"' + H.encode() + b'"}'))
    upload_conn.send(upload_events.Ready(0))
    with pytest.raises(RemoteProtocolError) as info:
        read(upload_conn, frame(0x08, b'{"name":"a"}'))
    assert info.value.code is ErrorCode.UNEXPECTED


def test_upload_bytes_received_before_an_answer_are_early() -> None:
    server = upload_server()
    server.receive_data(frame(0x08, b'{"name":"a"}') + frame(0x08, b'{"name":"b"}'))
    assert server.next_event() == upload_events.Stat("a")
    early = server.early_bytes()
    assert early is not None and early.code is ErrorCode.UNEXPECTED
    server.send(upload_events.Error("unexpected-message", early.message, fatal=True))
    assert server.state is UploadState.CLOSED
    alone = upload_server()
    alone.receive_data(frame(0x08, b'{"name":"a"}'))
    assert alone.next_event() == upload_events.Stat("a")
    assert alone.early_bytes() is None


# ``fatal``: sent in every ERROR; absent (an older server), the state decides.
@pytest.mark.parametrize(("make", "kind", "fatal"), [
    (lambda: upload_client_after(upload_events.Stat("a")), 0x0C, False),  # an answer
    (lambda: UploadConnection(UploadRole.CLIENT), 0x0C, True),  # unprompted
    (exec_client_running, 0x15, True),  # while a command runs
])
def test_an_error_without_fatal_reads_as_its_state_says(make: Make, kind: int,
                                                         fatal: bool) -> None:
    conn = make()
    error = read(conn, frame(kind, b'{"code":"busy","message":"m"}'))
    assert isinstance(error, exec_events.Error | upload_events.Error)
    assert error.fatal is fatal
    assert conn.state.value == ("closed" if fatal else "idle")


def test_an_exec_error_answering_a_run_without_fatal_is_not_fatal() -> None:
    client = ExecConnection(ExecRole.CLIENT)
    client.send(exec_events.Run("x", "t"))
    assert read(client, frame(0x15, b'{"code":"busy"}')) == exec_events.Error("busy", "", False)
    assert client.state is ExecState.IDLE


def test_a_fatal_answer_closes_the_upload_connection() -> None:
    client = upload_client_after(upload_events.Stat("a"))
    error = read(client, frame(0x0C, b'{"code":"io-error","message":"EIO","fatal":true}'))
    assert error == upload_events.Error("io-error", "EIO", fatal=True)
    assert client.state is UploadState.CLOSED


# The tables: every code each service has is in its table, and servers keep to them.
@pytest.mark.parametrize(("codes", "table"), [
    (exec_events.ExecErrorCode, exec_events.ERRORS),
    (upload_events.UploadErrorCode, upload_events.ERRORS),
    (ChatCode, CHAT_ERRORS),
])
def test_every_service_code_is_in_its_table(codes: type, table: Mapping[str, ErrorSpec]) -> None:
    assert {str(code) for code in codes} <= set(table)


@pytest.mark.parametrize("table", [exec_events.ERRORS, upload_events.ERRORS])
def test_framed_services_share_the_common_codes_all_fatal(
    table: Mapping[str, ErrorSpec],
) -> None:
    for code in ("bad-message", "bad-encoding", "bad-preface", "unexpected-message",
                 "frame-too-large", "truncated"):
        assert table[code].fatal is True


def test_the_same_fault_has_one_code_in_every_table() -> None:
    for code in ("busy", "shutting-down", "idle-timeout", "bad-preface"):
        assert code in exec_events.ERRORS and code in upload_events.ERRORS \
            and code in CHAT_ERRORS
    assert "server-full" not in CHAT_ERRORS and "server-shutdown" not in CHAT_ERRORS


def test_a_server_cannot_send_an_error_against_its_table() -> None:
    server = upload_server()
    server.receive_data(frame(0x08, b'{"name":"a"}'))
    server.next_event()
    with pytest.raises(LocalProtocolError):
        server.send(upload_events.Error("not-a-code", "x"))
    with pytest.raises(LocalProtocolError):
        server.send(upload_events.Error("shutting-down", "x", fatal=False))
    with pytest.raises(LocalProtocolError):
        server.send(upload_events.Error("not-found", "x", fatal=True))  # never fatal
    with pytest.raises(LocalProtocolError):
        exec_server().send(exec_events.Error("bad-command", "x", fatal=True))
    with pytest.raises(LocalProtocolError):
        chat_codec.encode_server_event(ChatError("server-full", "x"))


def test_error_messages_are_cut_to_4096_characters() -> None:
    client = upload_client_after(upload_events.Stat("a"))
    server = upload_server()
    server.receive_data(frame(0x08, b'{"name":"a"}'))
    server.next_event()
    error = read(client, server.send(upload_events.Error("not-found", "m" * 5000)))
    assert error == upload_events.Error("not-found", "m" * 4096)


# Chat: which codes close, and the names older servers used.
def test_every_closing_chat_code_is_a_farewell_to_the_client() -> None:
    closing = {"bad-preface", "busy", "idle-timeout", "slow-consumer", "kicked",
               "too-many-errors", "shutting-down"}
    assert set(FAREWELL_CODES) == closing


@pytest.mark.parametrize(("line", "code"), [
    ("! server-full: too many clients", "busy"),
    ("! server-shutdown: bye", "shutting-down"),
    ("! busy: too many clients", "busy"),
])
def test_the_chat_client_reads_older_codes_as_the_new_ones(line: str, code: str) -> None:
    event = chat_codec.parse_server_line(line)
    assert isinstance(event, ChatError) and event.code == code
