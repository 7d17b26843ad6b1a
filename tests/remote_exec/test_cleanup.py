"""No process of a command's group survives: client dropped, timeout, cancel, shutdown.

Each command starts a background grandchild (``sleep 300 &``) that holds the
output pipe, and the test first sees it alive in ``/proc``, then checks that
no process of the group — zombies included — is left 2 s later.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import trio

from services.remote_exec.client import ExecResult, open_exec
from services.remote_exec.events import Cancel, Exit, Reason, Run, Started
from services.remote_exec.protocol import ExecConnection, Role
from services.wire.preface import encode_preface
from services.wire.sentinels import NEED_DATA
from tests.support.processes import group_members
from tests.support.servers import EXEC_TOKEN, StartExec
from tests.support.waiting import wait_for

WITH_GRANDCHILD = "sleep 300 & echo ready; sleep 200"
IGNORING_TERM = "trap '' TERM; sleep 300 & echo ready; sleep 200"
NO_ORPHANS_WITHIN = 2.0
MIB = 1 << 20
# What may sit between the writer and the counted bytes: a grown pipe, a read or two, the
# socket buffers of both ends. Unchecked, the writer below runs at hundreds of MiB a second.
UNSENT_BOUND = 32 * MIB


class Watched:
    """Runs a command through the client library and remembers its pid."""

    def __init__(self) -> None:
        self.pid = 0
        self.ready = trio.Event()
        self.result: ExecResult | None = None

    def started(self, pid: int) -> None:
        self.pid = pid

    def stdout(self, data: bytes) -> None:
        if b"ready" in data:
            self.ready.set()

    async def run(self, port: int, command: str, **kwargs: object) -> None:
        async with open_exec("127.0.0.1", port, token=EXEC_TOKEN) as ex:
            self.result = await ex.run(command, on_started=self.started, on_stdout=self.stdout,
                                       **kwargs)  # type: ignore[arg-type]


async def assert_group_alive_then_gone(pid: int, *, at_least: int = 2) -> None:
    assert len(group_members(pid)) >= at_least  # the shell and its background grandchild
    await wait_for(lambda: not group_members(pid), timeout=NO_ORPHANS_WITHIN)


async def test_client_dropped_mid_command_leaves_no_process(start_server: StartExec) -> None:
    server = await start_server()
    watched = Watched()
    async with trio.open_nursery() as clients:
        clients.start_soon(watched.run, server.port, WITH_GRANDCHILD)
        with trio.fail_after(5):
            await watched.ready.wait()
        alive = group_members(watched.pid)
        clients.cancel_scope.cancel()  # the client goes away: its socket is closed
    assert len(alive) >= 2
    await wait_for(lambda: not group_members(watched.pid), timeout=NO_ORPHANS_WITHIN)
    await wait_for(lambda: server.counters.extra["ended_disconnected"] == 1)
    assert server.counters.extra["commands_killed"] == 1


async def test_client_dropped_kills_grandchildren_that_ignore_sigterm(
    start_server: StartExec,
) -> None:
    server = await start_server(kill_grace=0.3)
    watched = Watched()
    async with trio.open_nursery() as clients:
        clients.start_soon(watched.run, server.port, IGNORING_TERM)
        with trio.fail_after(5):
            await watched.ready.wait()
        alive = group_members(watched.pid)
        clients.cancel_scope.cancel()
    assert len(alive) >= 2
    await wait_for(lambda: not group_members(watched.pid), timeout=NO_ORPHANS_WITHIN)


async def test_a_time_limit_kills_the_whole_group(start_server: StartExec) -> None:
    server = await start_server(kill_grace=0.3)
    watched = Watched()
    members: list[tuple[int, str]] = []

    def check_alive(data: bytes) -> None:
        watched.stdout(data)
        members.extend(group_members(watched.pid))

    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run(IGNORING_TERM, timeout=0.5, on_started=watched.started,
                                  on_stdout=check_alive)
    assert len(members) >= 2
    assert result.reason is Reason.TIMEOUT
    assert result.signal == "SIGKILL"  # it ignored SIGTERM for the whole kill grace
    await wait_for(lambda: not group_members(watched.pid), timeout=NO_ORPHANS_WITHIN)


async def test_background_jobs_die_with_a_command_that_exits(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run("sleep 300 & echo $!")
    assert result.status == 0
    grandchild = int(result.stdout)
    await wait_for(lambda: not group_members(result.pid), timeout=NO_ORPHANS_WITHIN)
    assert not group_members(grandchild)


async def test_cancel_kills_the_group_and_keeps_the_connection(start_server: StartExec) -> None:
    server = await start_server()
    stream = await trio.open_tcp_stream("127.0.0.1", server.port)
    async with stream:
        proto = ExecConnection(Role.CLIENT)

        async def next_event() -> object:
            with trio.fail_after(5):
                while (event := proto.next_event()) is NEED_DATA:
                    proto.receive_data(await stream.receive_some(65536))
            return event

        await stream.send_all(encode_preface("exec") + proto.send(Run(WITH_GRANDCHILD, EXEC_TOKEN)))
        started = await next_event()
        assert isinstance(started, Started)
        await next_event()  # "ready"
        assert len(group_members(started.pid)) >= 2
        await stream.send_all(proto.send(Cancel()))
        while not isinstance(event := await next_event(), Exit):
            pass
        assert event.reason is Reason.CANCELLED
        await wait_for(lambda: not group_members(started.pid), timeout=NO_ORPHANS_WITHIN)
        await stream.send_all(proto.send(Run("echo again", EXEC_TOKEN)))
        assert isinstance(await next_event(), Started)
    assert server.counters.extra["ended_cancelled"] == 1


async def test_shutdown_kills_running_commands_and_tells_clients(start_server: StartExec) -> None:
    server = await start_server(grace_period=0.5, kill_grace=0.2)
    watched = Watched()
    async with trio.open_nursery() as clients:
        clients.start_soon(watched.run, server.port, WITH_GRANDCHILD)
        with trio.fail_after(5):
            await watched.ready.wait()
        assert len(group_members(watched.pid)) >= 2
        server.lifecycle.request_shutdown("test")
    assert watched.result is not None
    assert watched.result.reason is Reason.SHUTDOWN
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    await wait_for(lambda: not group_members(watched.pid), timeout=NO_ORPHANS_WITHIN)
    assert server.counters.extra["ended_shutdown"] == 1


async def test_shutdown_lets_a_short_command_finish_within_the_grace(
    start_server: StartExec,
) -> None:
    server = await start_server(grace_period=3.0, kill_grace=0.2)
    watched = Watched()
    async with trio.open_nursery() as clients:
        clients.start_soon(watched.run, server.port, "echo ready; sleep 0.5; echo done")
        with trio.fail_after(5):
            await watched.ready.wait()
        server.lifecycle.request_shutdown("test")
    assert watched.result is not None
    assert watched.result.reason is Reason.EXIT
    assert watched.result.status == 0
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()


async def test_a_client_that_stops_reading_slows_the_command_then_loses_it(
    start_server: StartExec, tmp_path: Path
) -> None:
    server = await start_server(send_timeout=0.5)
    # A writer that says how far it got: one more MiB written, one more in the file.
    progress = tmp_path / "mebibytes"
    command = (
        f"n=0; while :; do head -c {MIB} /dev/zero; n=$((n+1)); echo $n > {progress}; done"
    )
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        proto = ExecConnection(Role.CLIENT)
        await stream.send_all(encode_preface("exec") + proto.send(Run(command, EXEC_TOKEN)))
        # Read only the STARTED frame, then nothing more.
        data = b""
        while (event := proto.next_event()) is NEED_DATA:
            data = await stream.receive_some(64)
            proto.receive_data(data)
        assert isinstance(event, Started)
        await wait_for(lambda: not group_members(event.pid), timeout=NO_ORPHANS_WITHIN + 1)
    # The connection's end is counted after the command's: wait for both.
    await wait_for(lambda: server.counters.connections_open == 0)
    assert server.counters.extra["commands_killed"] == 1
    assert server.counters.errors_by_reason["timeout"] == 1  # the send timeout
    # Back-pressure: the writer got no further than what the server sent plus the pipe and
    # a read or two; a server buffering its output would have let it run on until the kill.
    written = int(progress.read_text().strip() or "0") * MIB if progress.exists() else 0
    assert written - server.counters.bytes_out < UNSENT_BOUND


async def test_without_sandbox_a_process_that_left_the_group_does_not_hang_the_run(
    start_server: StartExec,
) -> None:
    """Without the sandbox ``setsid`` escapes the group kill; it only delays EXIT (drain)."""
    server = await start_server(sandbox_uids="off")
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run("setsid sleep 30 & sleep 0.2; echo $!")
    escaped = int(result.stdout)
    try:
        assert result.status == 0
        assert 1.0 <= result.elapsed < 3  # the drain timeout (1 s) bounded the wait for EOF
        assert group_members(escaped)  # its own session now: out of the group kill's reach
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(escaped, signal.SIGKILL)


async def test_a_command_ignoring_sigterm_gets_its_exit_within_a_short_grace(
    start_server: StartExec,
) -> None:
    """Point 12: grace 1 s < kill grace 1 s + drain 1 s (compose's old timings), EXIT still sent."""
    server = await start_server(grace_period=1.0, kill_grace=1.0)
    watched = Watched()
    async with trio.open_nursery() as clients:
        clients.start_soon(watched.run, server.port, IGNORING_TERM)
        with trio.fail_after(5):
            await watched.ready.wait()
        server.lifecycle.request_shutdown("test")
    assert watched.result is not None
    assert watched.result.reason is Reason.SHUTDOWN
    with trio.fail_after(5):
        await server.lifecycle.stopped.wait()
    assert server.counters.extra["ended_shutdown"] == 1
    assert server.counters.extra["ended_aborted"] == 0
