"""Edge cases of a netlab-mode connection: waiting in line, shutdown, idle, misbehaving clients."""

from __future__ import annotations

from services.remote_exec.events import (
    Cancel,
    Error,
    Exit,
    Queued,
    Reason,
    Run,
    Started,
    Stdin,
    StdinEof,
    Stdout,
)
from services.wire.sentinels import CLOSED
from tests.support.peers import FramePeer
from tests.support.processes import group_members
from tests.support.servers import EXEC_TOKEN, StartExec
from tests.support.waiting import wait_for


async def test_an_idle_client_is_told_when_the_server_shuts_down(start_server: StartExec) -> None:
    server = await start_server()
    client = await FramePeer.exec(server.port)
    await wait_for(lambda: server.counters.extra["netlab_connections"] == 1)  # preface read
    server.lifecycle.request_shutdown("test")
    error = await client.next()
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == ("shutting-down", True)
    assert await client.next() is CLOSED
    await client.aclose()


async def test_cancel_while_queued_answers_cancelled_and_keeps_the_connection(
    start_server: StartExec,
) -> None:
    server = await start_server(max_concurrent=1)
    holder = await FramePeer.exec(server.port)
    await holder.send(Run("sleep 1", EXEC_TOKEN))
    assert isinstance(await holder.next(), Started)
    client = await FramePeer.exec(server.port)
    await client.send(Run("echo never", EXEC_TOKEN))
    assert await client.next() == Queued(1, server.config.queue_timeout)
    await client.send(Cancel())
    assert await client.next() == Error("cancelled", "cancelled")
    assert server.server.ctx.admission.waiting == 0
    await client.send(Run("echo after", EXEC_TOKEN))
    assert isinstance(await client.next(), Queued | Started)
    await holder.aclose()
    while not isinstance(event := await client.next(), Exit):
        if isinstance(event, Stdout):
            assert event.data == b"after\n"
    await client.aclose()
    assert server.counters.extra["commands_cancelled_queued"] == 1


async def test_a_client_leaving_while_queued_runs_nothing(start_server: StartExec) -> None:
    server = await start_server(max_concurrent=1)
    holder = await FramePeer.exec(server.port)
    await holder.send(Run("sleep 0.5", EXEC_TOKEN))
    assert isinstance(await holder.next(), Started)
    client = await FramePeer.exec(server.port)
    await client.send(Run("echo never", EXEC_TOKEN))
    assert isinstance(await client.next(), Queued)
    await client.aclose()
    await wait_for(lambda: server.server.ctx.admission.waiting == 0)
    while not isinstance(await holder.next(), Exit):
        pass
    await holder.aclose()
    # Slots go first come, first served: a command still in line would start before this one.
    late = await FramePeer.exec(server.port)
    await late.send(Run("true", EXEC_TOKEN))
    while not isinstance(await late.next(), Exit):
        pass
    await late.aclose()
    assert server.counters.extra["commands_started"] == 2


async def test_an_idle_client_gets_idle_timeout(start_server: StartExec) -> None:
    server = await start_server(idle_timeout=0.2)
    client = await FramePeer.exec(server.port)
    error = await client.next()
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == ("idle-timeout", True)
    await client.aclose()


async def test_a_long_silent_command_is_not_an_idle_client(start_server: StartExec) -> None:
    server = await start_server(idle_timeout=0.2)
    client = await FramePeer.exec(server.port)
    await client.send(Run("sleep 0.6; echo done", EXEC_TOKEN))
    assert isinstance(await client.next(), Started)
    assert await client.next() == Stdout(b"done\n")
    exit_ = await client.next()
    assert isinstance(exit_, Exit)
    assert exit_.reason is Reason.EXIT
    await client.aclose()


async def test_stdin_without_asking_is_a_fatal_error_and_the_group_dies(
    start_server: StartExec,
) -> None:
    server = await start_server()
    client = await FramePeer.exec(server.port)
    await client.send(Run("sleep 300 & echo ready; sleep 200", EXEC_TOKEN))
    started = await client.next()
    assert isinstance(started, Started)
    assert await client.next() == Stdout(b"ready\n")
    await client.stream.send_all(b"\x02\x00\x00\x00\x01x")  # STDIN, but RUN had no stdin
    error = await client.next()
    assert isinstance(error, Error)
    assert (error.code, error.fatal) == ("unexpected-message", True)
    await wait_for(lambda: not group_members(started.pid), timeout=2.0)
    await client.aclose()
    assert server.counters.errors_by_reason["unexpected-message"] == 1


async def test_stdin_in_pieces_then_eof(start_server: StartExec) -> None:
    server = await start_server()
    client = await FramePeer.exec(server.port)
    await client.send(Run("cat", EXEC_TOKEN, stdin=True))
    assert isinstance(await client.next(), Started)
    sent = b""
    for piece in (b"one ", b"two ", b"three"):
        await client.send(Stdin(piece))
        sent += piece
    await client.send(StdinEof())
    received = b""
    while not isinstance(event := await client.next(), Exit):
        assert isinstance(event, Stdout)
        received += event.data
    assert received == sent
    await client.aclose()


async def test_cancel_behind_unread_stdin_is_seen_at_once(start_server: StartExec) -> None:
    """Point 15: CANCEL after more STDIN frames than a 4-frame queue (and the pipe) hold."""
    server = await start_server(command_timeout=30)
    client = await FramePeer.exec(server.port)
    await client.send(Run("sleep 30", EXEC_TOKEN, stdin=True))
    assert isinstance(await client.next(), Started)
    for _ in range(16):  # 256 KiB the command never reads: 64 KiB fill the pipe
        await client.send(Stdin(b"x" * 16384))
    await client.send(Cancel())
    event = await client.next(timeout=5)
    assert isinstance(event, Exit) and event.reason is Reason.CANCELLED
    await client.aclose()


async def test_stdin_eof_behind_unread_stdin_is_seen_at_once(start_server: StartExec) -> None:
    """Point 15: the connection's EOF after unread STDIN ends the command at once."""
    server = await start_server(command_timeout=30)
    client = await FramePeer.exec(server.port)
    await client.send(Run("sleep 30", EXEC_TOKEN, stdin=True))
    started = await client.next()
    assert isinstance(started, Started)
    for _ in range(16):
        await client.send(Stdin(b"x" * 16384))
    await client.send(StdinEof())
    await client.aclose()
    await wait_for(lambda: server.counters.extra["ended_disconnected"] == 1, timeout=5)
    assert not group_members(started.pid)
