"""Exercise 5's own parts: the plain exec server's answers and record, and how a run is judged."""

from __future__ import annotations

import socket

from lab.exercises.context import free_port
from lab.exercises.ex05_nagle import Command, PlainExecServer, Run, answer


def test_the_server_answers_true_and_echo_like_a_shell() -> None:
    assert answer(b"true") == b""
    assert answer(b"echo a  b") == b"a b\n"
    assert answer(b"echo") == b"\n"
    assert b"not run here" in answer(b"rm -rf /")


def exchange(conn: socket.socket, command: bytes) -> bytes:
    """The classic exchange, done carefully: command, length, ok, result."""
    conn.sendall(command)
    size = int(conn.recv(64))
    conn.sendall(b"ok")
    result = b""
    while len(result) < size:
        result += conn.recv(1024)
    return result


def test_the_server_records_each_command_its_ack_and_when_it_answered() -> None:
    port = free_port()
    with PlainExecServer("127.0.0.1", port) as server:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            assert exchange(conn, b"echo hi") == b"hi\n"
            assert exchange(conn, b"echo again") == b"again\n"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            assert exchange(conn, b"echo there") == b"there\n"
        seen, connections = server.record.snapshot()
    assert connections == 2
    assert [c.text for c in seen] == [b"echo hi", b"echo again", b"echo there"]
    assert all(c.ack == b"ok" and c.answered is not None and c.answered >= c.arrived
               for c in seen)


def run(commands: list[Command], expected: list[str]) -> Run:
    return Run(commands, 1, "", "", expected)


def test_a_run_finds_an_ack_glued_to_the_next_command() -> None:
    clean = [Command(b"true", 1.0, b"ok", 1.01), Command(b"true", 1.05, b"ok", 1.06)]
    assert run(clean, ["true", "true"]).glued() is None
    glued = [Command(b"true", 1.0, b"oktrue", 1.01)]
    assert run(glued, ["true", "true"]).glued() is glued[0]
    two_commands = [Command(b"truetrue", 1.0, b"ok", 1.01)]
    assert run(two_commands, ["true", "true"]).glued() is two_commands[0]


def test_turnaround_runs_from_an_answer_to_the_next_arrival() -> None:
    commands = [Command(b"true", 1.0, b"ok", 1.01), Command(b"true", 1.05, b"ok", 1.06),
                Command(b"true", 1.061, b"ok", None)]
    result = run(commands, ["true"] * 3)
    assert result.answered == 2
    assert [round(t, 3) for t in result.turnarounds()] == [0.04, 0.001]
