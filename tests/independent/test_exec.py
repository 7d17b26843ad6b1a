"""The independent exec client (written from the reference alone) against netlab's exec server."""

from __future__ import annotations

import struct

from tests.independent.conftest import in_thread
from tests.independent.exec_client import (
    ERROR,
    QUEUED,
    RUN,
    STARTED,
    STDIN,
    ExecClient,
    Outcome,
)
from tests.independent.wire import ServerError, frame
from tests.support.servers import StartExec


async def test_a_command_runs_and_its_output_and_status_come_back(
        exec_server: StartExec) -> None:
    server = await exec_server()

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            out = client.run("echo hi; echo oops >&2; exit 3", server.token)
            assert (out.stdout, out.stderr) == (b"hi\n", b"oops\n")
            assert out.exit is not None and out.started is not None
            assert (out.exit["status"], out.exit["signal"], out.exit["reason"]) == (3, None, "exit")
            assert out.started["output_limit"] == server.config.output_limit
            # The next RUN on the same connection, after EXIT.
            again = client.run("printf again", server.token)
            assert again.stdout == b"again"
            assert again.exit is not None and again.exit["status"] == 0

    await in_thread(talk)


async def test_stdin_flows_to_the_command_until_stdin_eof(exec_server: StartExec) -> None:
    server = await exec_server()

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            out = client.run("tr a-z A-Z", server.token, stdin=b"netlab\n")
            assert out.stdout == b"NETLAB\n"
            # Without "stdin": true, the command reads end-of-file at once.
            empty = client.run("cat; echo done", server.token)
            assert empty.stdout == b"done\n"

    await in_thread(talk)


async def test_limits_and_cancel_end_a_command_with_their_reason(exec_server: StartExec) -> None:
    server = await exec_server(output_limit=1000, kill_grace=0.2)

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            slow = client.run("sleep 10", server.token, timeout=0.5)
            assert slow.exit is not None
            assert (slow.exit["reason"], slow.exit["status"]) == ("timeout", None)
            assert slow.exit["signal"].startswith("SIG")
            loud = client.run("yes", server.token)
            assert loud.exit is not None and loud.exit["reason"] == "output-limit"
            assert len(loud.stdout) == 1000
            cancelled = client.run("sleep 10", server.token, cancel_on_start=True)
            assert cancelled.exit is not None and cancelled.exit["reason"] == "cancelled"
            after = client.run("echo still here", server.token)
            assert after.stdout == b"still here\n"

    await in_thread(talk)


async def test_a_queued_run_hears_queued_and_a_cancel_while_queued_is_answered_cancelled(
        exec_server: StartExec) -> None:
    server = await exec_server(max_concurrent=1, queue_timeout=30)

    def talk() -> None:
        with ExecClient(server.host, server.port) as first, \
                ExecClient(server.host, server.port) as second:
            first.send_run("sleep 10", server.token)
            kind, started = first.receive()
            assert kind == STARTED
            second.send_run("echo never", server.token)
            kind, queued = second.receive()
            assert kind == QUEUED and queued["position"] == 1
            assert queued["timeout"] == 30
            second.cancel()
            error = second.expect_error()
            assert (error.code, error.fatal) == ("cancelled", False)
            first.cancel()
            ended = first.finish(Outcome(started=started))
            assert ended.exit is not None and ended.exit["reason"] == "cancelled"
            # The slot is free again: the second connection's next RUN runs.
            assert second.run("echo later", server.token).stdout == b"later\n"

    await in_thread(talk)


async def test_refusals_that_answer_a_run_keep_the_connection(exec_server: StartExec) -> None:
    server = await exec_server()

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            client.send_run("   ", server.token)
            error = client.expect_error()
            assert (error.code, error.fatal) == ("bad-command", False)
            assert client.state == "IDLE"
            assert client.run("echo ok", server.token).stdout == b"ok\n"

    await in_thread(talk)


async def test_a_wrong_token_is_a_fatal_auth_failed(exec_server: StartExec) -> None:
    server = await exec_server()

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            client.send_run("echo never", "wrong")
            error = client.expect_error()
            assert (error.code, error.fatal) == ("auth-failed", True)
            assert client.closed()

    await in_thread(talk)


async def test_the_json_rules_unknown_fields_null_and_numbers(exec_server: StartExec) -> None:
    server = await exec_server()

    def talk() -> None:
        # Unknown fields are ignored; null is absent.
        with ExecClient(server.host, server.port) as client:
            client.send_run("echo ok", server.token, colour="blue", timeout=None)
            assert client.finish().stdout == b"ok\n"
            client.peer.send_json(RUN, {"command": "echo null", "token": server.token,
                                        "timeout": None, "stdin": None})
            client.state = "REQUESTED"
            assert client.finish().stdout == b"null\n"

    await in_thread(talk)


def _refused(host: str, port: int, data: bytes, *, prefaced: bool = True,
             state: str = "IDLE") -> ServerError:
    """Send ``data`` (the client's ``state`` after it): one fatal ERROR, then the close."""
    with ExecClient(host, port, send_preface=prefaced) as client:
        client.peer.send(data)
        client.state = state
        error = client.expect_error(skip=2)
        assert error.fatal, error
        assert client.closed()
        return error


RUN_OK = b'{"command":"true","token":"%s"}'


async def test_protocol_errors_get_one_fatal_error_with_the_reference_code(
        exec_server: StartExec) -> None:
    server = await exec_server()
    token = server.token.encode()
    cases = [
        (frame(0x7F, b""), "bad-message"),  # an unknown kind byte
        (frame(QUEUED, b'{"position":1,"timeout":1}'), "unexpected-message"),  # server-only
        (frame(ERROR, b'{"code":"x"}'), "unexpected-message"),
        (frame(RUN, b"[1, 2]"), "bad-message"),  # JSON, not an object
        (frame(RUN, b"not json"), "bad-message"),
        (frame(RUN, b'{"command":"a","command":"b","token":"t"}'), "bad-message"),  # duplicate
        (frame(RUN, b'{"command":"true","token":"t","timeout":NaN}'), "bad-message"),
        (frame(RUN, b'{"command":"true","token":"t","timeout":Infinity}'), "bad-message"),
        (frame(RUN, b'{"command":"true","token":"t","timeout":1e400}'), "bad-message"),
        (frame(RUN, b'{"command":"true","token":"t","stdin":1}'), "bad-message"),  # not boolean
        (frame(RUN, b'{"command":"true","token":"t","timeout":true}'), "bad-message"),
        (frame(RUN, b'{"command":"true"}'), "bad-message"),  # token missing
        (frame(RUN, b'{"command":null,"token":"t"}'), "bad-message"),  # null: missing
        (frame(RUN, b'{"command":"\xff","token":"t"}'), "bad-encoding"),
        (frame(RUN, b'{"command":"\\ud800","token":"t"}'), "bad-encoding"),  # lone surrogate
        (struct.pack(">BI", RUN, 64 * 1024 + 1), "frame-too-large"),  # at the header
        (frame(STDIN, b"x"), "unexpected-message"),  # STDIN before any RUN
        (frame(0x03, b"x"), "frame-too-large"),  # an empty kind: its limit is 0
    ]
    # A second RUN before the first one's answer ended (the first is a valid request).
    twice = frame(RUN, RUN_OK % token) + frame(RUN, RUN_OK % token)

    def talk() -> None:
        for data, code in cases:
            error = _refused(server.host, server.port, data)
            assert error.code == code, (data, error)
        error = _refused(server.host, server.port, twice, state="REQUESTED")
        assert error.code == "unexpected-message"
        assert _refused(server.host, server.port, b"\x00netlab/1 chat\n", prefaced=False).code \
            == "bad-preface"

    await in_thread(talk)


async def test_a_server_past_max_clients_answers_busy_and_closes(exec_server: StartExec) -> None:
    server = await exec_server(max_clients=1)

    def talk() -> None:
        with ExecClient(server.host, server.port) as holder:
            holder.send_run("sleep 5", server.token)
            kind, started = holder.receive()  # the one slot is taken
            assert kind == STARTED
            with ExecClient(server.host, server.port) as late:
                error = late.expect_error()
                assert (error.code, error.fatal) == ("busy", True)
                assert late.closed()
            holder.cancel()
            assert holder.finish(Outcome(started=started)).exit is not None

    await in_thread(talk)


async def test_a_silent_client_is_told_idle_timeout(exec_server: StartExec) -> None:
    server = await exec_server(idle_timeout=0.5)

    def talk() -> None:
        with ExecClient(server.host, server.port) as client:
            error = client.expect_error()
            assert (error.code, error.fatal) == ("idle-timeout", True)
            assert client.closed()

    await in_thread(talk)
