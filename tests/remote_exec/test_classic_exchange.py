"""The tutorial's exec exchange, sans-IO: command, length, ack, result; choose_result."""

from __future__ import annotations

import pytest

from services.remote_exec.classic import (
    BadCommand,
    ClassicExchange,
    Command,
    Turn,
    choose_result,
)
from services.remote_exec.outcome import Limits, Outcome, Stop
from services.wire.errors import LocalProtocolError
from services.wire.sentinels import CLOSED

LIMITS = Limits(timeout=2.0, output_limit=100)


def outcome(stop: Stop, status: int | None = None) -> Outcome:
    return Outcome(pid=1, stop=stop, status=status, signal=None, elapsed=0.1,
                   stdout_bytes=0, stderr_bytes=0)


def test_one_command_is_length_then_ack_then_result() -> None:
    exchange = ClassicExchange()
    assert exchange.receive_command(b"echo hi") == Command(b"echo hi")
    assert exchange.send_length(b"hi\n") == b"3"
    assert exchange.receive_ack(b"ok") == b"hi\n"
    assert exchange.turn is Turn.COMMAND


def test_several_commands_and_an_empty_result() -> None:
    exchange = ClassicExchange()
    for command in (b"true", b"ls"):
        exchange.receive_command(command)
        assert exchange.send_length(b"") == b"0"
        assert exchange.receive_ack(b"x") == b""
    assert exchange.receive_command(b"") is CLOSED
    assert exchange.turn is Turn.CLOSED


def test_a_client_leaving_instead_of_acking_gets_no_result() -> None:
    exchange = ClassicExchange()
    exchange.receive_command(b"ls")
    exchange.send_length(b"a\n")
    assert exchange.receive_ack(b"") is CLOSED


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
