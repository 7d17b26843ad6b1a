"""The tutorial's exec exchange, sans-IO: command, length, ack, result; choose_result."""

from __future__ import annotations

import re

import pytest

from services.remote_exec.classic import (
    Acked,
    BadCommand,
    ClassicExchange,
    Command,
    Turn,
    choose_result,
    split_ack,
)
from services.remote_exec.outcome import Limits, Outcome, Stop
from services.wire.errors import LocalProtocolError
from services.wire.sentinels import CLOSED
from tests.support.docblocks import ROOT

LIMITS = Limits(timeout=2.0, output_limit=100)


def outcome(stop: Stop, status: int | None = None) -> Outcome:
    return Outcome(pid=1, stop=stop, status=status, signal=None, elapsed=0.1,
                   stdout_bytes=0, stderr_bytes=0)


def test_one_command_is_length_then_ack_then_result() -> None:
    exchange = ClassicExchange()
    assert exchange.receive_command(b"echo hi") == Command(b"echo hi")
    assert exchange.send_length(b"hi\n") == b"3"
    assert exchange.receive_ack(b"ok") == Acked(b"hi\n")
    assert exchange.turn is Turn.COMMAND


def test_several_commands_and_an_empty_result() -> None:
    exchange = ClassicExchange()
    for command in (b"true", b"ls"):
        exchange.receive_command(command)
        assert exchange.send_length(b"") == b"0"
        assert exchange.receive_ack(b"x") == Acked(b"")
    assert exchange.receive_command(b"") is CLOSED
    assert exchange.turn is Turn.CLOSED


def test_a_client_leaving_instead_of_acking_gets_no_result() -> None:
    exchange = ClassicExchange()
    exchange.receive_command(b"ls")
    exchange.send_length(b"a\n")
    assert exchange.receive_ack(b"") is CLOSED


def commands_run(receives: list[bytes]) -> list[bytes]:
    """The commands a server runs, fed ``receives`` one receive at a time.

    It answers every command with ``hi\\n`` (the result sent once the ack is
    in) and reads the next command from what followed the ack, if anything
    did, else from the next receive, as the classic session does. An ack's
    turn with no receive left is the client leaving.
    """
    exchange = ClassicExchange()
    receives = list(receives)
    run = []
    command = exchange.receive_command(receives.pop(0))
    while command is not CLOSED:
        assert isinstance(command, Command)
        run.append(command.text)
        exchange.send_length(b"hi\n")
        acked = exchange.receive_ack(receives.pop(0) if receives else b"")
        if acked is CLOSED:
            break
        assert acked.result == b"hi\n"
        command = exchange.receive_command(acked.rest or (receives.pop(0) if receives else b""))
    return run


# Receives of the server (a first command, then ack, command, ack...), and the commands it
# runs. Only a leading ``ok`` can carry a command: the tutorial's client acks with ``ok``.
ACK_TABLE = [
    pytest.param([b"true", b"ok", b"true", b"ok"], [b"true", b"true"], id="ok-alone"),
    pytest.param([b"true", b"oktrue", b"ok"], [b"true", b"true"], id="ack-glued-to-a-command"),
    pytest.param([b"true", b"okecho x", b"ok", b"true", b"ok"], [b"true", b"echo x", b"true"],
                 id="ack-glued-then-ack-alone"),
    pytest.param([b"true", b"oktrue", b"oktrue", b"ok"], [b"true", b"true", b"true"],
                 id="glued-twice"),
    # No receive is held back: ``o`` is the whole ack and ``k`` a command of its own.
    pytest.param([b"true", b"o", b"k", b"ok"], [b"true", b"k"], id="ack-split-o-then-k"),
    pytest.param([b"true", b"ok\n", b"true", b"ok\r\n"], [b"true", b"true"],
                 id="ok-and-whitespace-is-all-ack"),
    pytest.param([b"true", b"yes", b"true", b"x"], [b"true", b"true"], id="ack-not-ok"),
    # Any other ack is one receive of anything: a command glued to it is lost in it.
    pytest.param([b"true", b"xtrue"], [b"true"], id="ack-not-ok-glued-to-a-command"),
    pytest.param([b"true", b"OKtrue"], [b"true"], id="ack-OK-is-not-ok"),
]


@pytest.mark.parametrize(("receives", "run"), ACK_TABLE)
def test_what_follows_a_leading_ok_is_the_next_command(
    receives: list[bytes], run: list[bytes]
) -> None:
    assert commands_run(receives) == run


def test_the_glued_command_comes_out_after_its_acks_result() -> None:
    exchange = ClassicExchange()
    exchange.receive_command(b"echo hi")
    exchange.send_length(b"hi\n")
    assert exchange.receive_ack(b"okls -l") == Acked(b"hi\n", b"ls -l")
    assert exchange.turn is Turn.COMMAND
    assert exchange.receive_command(b"ls -l") == Command(b"ls -l")


def test_a_glued_command_with_a_nul_byte_is_refused() -> None:
    exchange = ClassicExchange()
    exchange.receive_command(b"true")
    exchange.send_length(b"")
    acked = exchange.receive_ack(b"okls\x00")
    assert acked == Acked(b"", b"ls\x00")
    assert exchange.receive_command(acked.rest) == BadCommand(b"netlab: bad command (NUL byte)\n")


def doc_ack_rows() -> list[list[str]]:
    """The cells of the protocol reference's table of the ack's receive (classic exec)."""
    doc = (ROOT / "docs" / "reference" / "protocol" / "classic.md").read_text(encoding="utf-8")
    table = doc.split("| the ack's receive |", 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()[2:]]


def test_the_protocol_docs_table_of_the_ack_matches_split_ack() -> None:
    rows = doc_ack_rows()
    assert len(rows) == 4
    for receive, ack, rest in rows:
        examples = re.findall(r"`([^`]*)`", receive.split("(", 1)[-1])
        assert examples, receive
        for example in examples:
            chunk = example.replace("\\n", "\n").encode()
            got_ack, got_rest = split_ack(chunk)
            assert got_ack == (chunk if ack == "all of it" else ack.strip("`").encode()), example
            if got_rest:
                assert f"`{got_rest.decode()}`" in rest, example
            else:
                assert rest == "the next receive", example


def test_a_nul_byte_is_refused_with_a_netlab_line() -> None:
    event = ClassicExchange().receive_command(b"ls\x00-l")
    assert event == BadCommand(b"netlab: bad command (NUL byte)\n")


@pytest.mark.parametrize("step", ["length first", "ack first", "two commands"])
def test_turns_out_of_order_are_local_errors(step: str) -> None:
    exchange = ClassicExchange()
    with pytest.raises(LocalProtocolError):
        if step == "length first":
            exchange.send_length(b"x")
        elif step == "ack first":
            exchange.receive_ack(b"ok")
        else:
            exchange.receive_command(b"a")
            exchange.receive_command(b"b")


def test_result_is_stdout_on_success_else_stderr() -> None:
    assert choose_result(outcome(Stop.EXITED, 0), b"out", b"err", LIMITS) == b"out"
    assert choose_result(outcome(Stop.EXITED, 2), b"out", b"err", LIMITS) == b"err"


@pytest.mark.parametrize(("stop", "line"), [
    (Stop.TIMEOUT, b"netlab: command killed after 2 s (time limit)\n"),
    (Stop.OUTPUT_LIMIT, b"netlab: command killed: output over 100 bytes\n"),
    (Stop.SHUTDOWN, b"netlab: server shutting down; command killed\n"),
    (Stop.CANCELLED, b"netlab: command cancelled\n"),
])
def test_a_command_netlab_ended_says_why_after_its_stderr(stop: Stop, line: bytes) -> None:
    assert choose_result(outcome(stop), b"out", b"warn", LIMITS) == b"warn\n" + line
    assert choose_result(outcome(stop), b"out", b"", LIMITS) == line
