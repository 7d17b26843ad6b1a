"""The tutorial's exec client (blocking stdlib socket) against the exec server's classic mode."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from functools import partial

import trio

from services.remote_exec.events import ExecErrorCode
from services.remote_exec.protocol import ExecConnection, Role
from tests.support.processes import group_members, pids_running
from tests.support.servers import StartExec
from tests.support.waiting import receive_exactly, wait_for


def tutorial_exec_client(port: int, commands: Sequence[bytes]) -> list[bytes]:
    """The tutorial's exec client, blocking stdlib socket (run it in a thread).

    Per command: one ``send`` of the command, one ``recv`` of the digits,
    ``send(b"ok")``, then ``recv`` until that many bytes have come.
    """
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for command in commands:
            sock.send(command)
            size = int(sock.recv(1024).decode())
            sock.send(b"ok")
            data = b""
            while len(data) < size:
                chunk = sock.recv(1024)
                if not chunk:
                    raise ConnectionError("server closed mid-answer")
                data += chunk
            answers.append(data)
    return answers


async def ask(port: int, *commands: bytes) -> list[bytes]:
    return await trio.to_thread.run_sync(partial(tutorial_exec_client, port, commands))


async def test_a_command_after_an_empty_answer_is_never_taken_for_the_ack(
    start_server: StartExec,
) -> None:
    # After an empty answer the client sends ``ok`` and its next command at once; were
    # ``ok`` acknowledged before the server read it, one receive could return both and
    # the client would wait for ever (a new connection's first commands hit it most).
    server = await start_server(sandbox_uids="off")
    for _ in range(60):
        with trio.fail_after(20):
            assert await ask(server.port, *[b"true"] * 5) == [b""] * 5


async def test_stdout_on_success_stderr_on_failure(start_server: StartExec) -> None:
    server = await start_server()
    answers = await ask(server.port, b"echo hello; echo ignored >&2",
                        b"echo ignored; ls /no/such/path/netlab")
    assert answers[0] == b"hello\n"
    assert b"/no/such/path/netlab" in answers[1]
    assert b"ignored" not in answers[1]
    assert server.counters.extra["classic_commands"] == 2


async def test_output_over_64_kib_does_not_hang(start_server: StartExec) -> None:
    server = await start_server()
    local = await trio.run_process(["seq", "1", "200000"], capture_stdout=True)
    assert len(local.stdout) > 64 * 1024
    with trio.fail_after(10):
        (answer,) = await ask(server.port, b"seq 1 200000")
    assert answer == local.stdout


async def test_an_empty_result_is_zero_then_nothing(start_server: StartExec) -> None:
    server = await start_server()
    answers = await ask(server.port, b"true", b"echo after")
    assert answers == [b"", b"after\n"]


async def test_utf8_commands_and_output(start_server: StartExec) -> None:
    server = await start_server()
    (answer,) = await ask(server.port, "echo 你好".encode())
    assert answer == "你好\n".encode()


async def test_a_timeout_answers_with_stderr_and_a_reason(start_server: StartExec) -> None:
    server = await start_server(command_timeout=0.3)
    (answer,) = await ask(server.port, b"echo partial; echo oops >&2; sleep 30")
    assert answer == b"oops\nnetlab: command killed after 0.3 s (time limit)\n"


async def test_the_classic_output_cap_applies(start_server: StartExec) -> None:
    server = await start_server(classic_output_limit=1000)
    (answer,) = await ask(server.port, b"yes")
    assert answer == b"netlab: command killed: output over 1000 bytes\n"


async def test_client_leaving_mid_command_kills_the_group(start_server: StartExec) -> None:
    server = await start_server()
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.send(b"sleep 313 & sleep 200")
        await wait_for(lambda: bool(pids_running("sleep 313")))
        pgid = os.getpgid(pids_running("sleep 313")[0])
        await wait_for(lambda: len(group_members(pgid)) >= 2)  # the shell's sleep 200 too
    finally:
        sock.close()
    await wait_for(lambda: not group_members(pgid), timeout=2.0)
    await wait_for(lambda: server.counters.extra["ended_disconnected"] == 1)


async def test_classic_off_answers_with_a_message(start_server: StartExec) -> None:
    server = await start_server(classic=False)
    (answer,) = await ask(server.port, b"echo should-not-run")
    assert b"classic mode is off" in answer
    assert server.counters.extra["commands_started"] == 0


async def test_a_bad_preface_gets_an_error_frame(start_server: StartExec) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"\x00netlab/1 chat\n")
        data = await receive_exactly(stream, 4096)
    client = ExecConnection(Role.CLIENT)
    client.receive_data(data)
    error = client.next_event()
    assert getattr(error, "code", None) == "bad-preface"
    assert getattr(error, "fatal", None) is True


async def test_netlab_garbage_gets_a_fatal_error(start_server: StartExec) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"\x00netlab/1 exec\n\x01\x00\x00\x00\x05hello")
        data = await receive_exactly(stream, 4096)
    client = ExecConnection(Role.CLIENT)
    client.receive_data(data)
    error = client.next_event()
    assert getattr(error, "code", None) == "bad-message"
    assert server.counters.errors_by_reason["bad-message"] == 1


async def test_past_max_clients_classic_and_netlab_clients_are_told(
    start_server: StartExec,
) -> None:
    server = await start_server(max_clients=1)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as holder:
        await holder.send_all(b"\x00netlab/1 exec\n")
        await wait_for(lambda: server.counters.connections_open == 1)
        (answer,) = await ask(server.port, b"echo hi")
        assert answer == b"netlab: busy: too many clients\n"
        async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
            await stream.send_all(b"\x00netlab/1 exec\n")
            data = await receive_exactly(stream, 4096)
    client = ExecConnection(Role.CLIENT)
    client.receive_data(data)
    assert getattr(client.next_event(), "code", None) == ExecErrorCode.BUSY


async def test_shutdown_answers_a_running_classic_command_with_the_reason(
    start_server: StartExec, nursery: trio.Nursery,
) -> None:
    server = await start_server(grace_period=1.0, kill_grace=0.2)
    said = b"bye\n"

    async def shut_down_soon() -> None:
        # Not at the command's start: the shell may not have written yet, and a command
        # killed before its echo has nothing to answer. Once the server holds the line
        # (counted in the classic answers' memory), the command has said it.
        await wait_for(lambda: server.server.ctx.classic_held == len(said))
        server.lifecycle.request_shutdown("test")

    nursery.start_soon(shut_down_soon)
    (answer,) = await ask(server.port, b"echo bye >&2; sleep 30")
    assert answer == said + b"netlab: server shutting down; command killed\n"
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()


async def test_shutdown_closes_an_idle_classic_connection(start_server: StartExec) -> None:
    server = await start_server()
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"echo one")
        assert await receive_exactly(stream, 1) == b"4"
        await stream.send_all(b"ok")
        assert await receive_exactly(stream, 4) == b"one\n"
        server.lifecycle.request_shutdown("test")
        assert await receive_exactly(stream, 1) == b""  # closed, nothing sent
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()


async def test_an_answer_not_acked_in_time_is_dropped_with_its_connection(
    start_server: StartExec,
) -> None:
    """Point 3: the answer is held until the ack; a client that never acks is cut off soon."""
    server = await start_server(classic_ack_timeout=0.3)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"echo held")
        with trio.fail_after(5):
            assert await stream.receive_some(64) == b"5"  # "held\n"
            while await stream.receive_some(64):  # no ack sent: the server closes
                pass
    assert server.counters.extra["classic_ack_timeout"] == 1
    assert server.counters.errors_by_reason["classic-ack-timeout"] == 1


async def test_classic_answers_share_a_memory_budget(start_server: StartExec) -> None:
    """Point 3: answers held for slow ackers are bounded; past the budget: busy, counted."""
    server = await start_server(classic_memory=1000)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as holder:
        await holder.send_all(b"head -c 1000 /dev/zero")
        with trio.fail_after(5):
            assert await holder.receive_some(64) == b"1000"  # held, not acked
        (answer,) = await ask(server.port, b"echo refused")
        assert answer.startswith(b"netlab: busy: classic answers already hold 1000 bytes")
        assert server.counters.extra["refused_classic_memory"] == 1
    await wait_for(lambda: server.server.ctx.classic_held == 0)
    (answer,) = await ask(server.port, b"head -c 5000 /dev/zero")
    assert answer == b"netlab: command killed: classic answers use up the server's memory budget\n"
    assert server.counters.extra["classic_memory_kills"] == 1
    (answer,) = await ask(server.port, b"echo fine")
    assert answer == b"fine\n"
