"""The exec twin runs small commands for netlab's exec client, and hangs on big output."""

from __future__ import annotations

import os
import signal
from contextlib import suppress

import pytest
import trio

from lab.twins.exec import ExecTwin
from services.remote_exec.client import AuthFailed, open_exec
from services.remote_exec.events import Reason
from tests.lab.twins.conftest import HOST, TOKEN
from tests.support.processes import group_members
from tests.support.waiting import receive_exactly, wait_for

BIG_OUTPUT = 200 * 1024  # well over the 64 KiB a Linux pipe holds


def running(pid: int) -> bool:
    return any(state != "Z" for _, state in group_members(pid))


def reap_strays(pgid: int) -> None:
    """Reap the group's orphans handed to this process (a subreaper, after netlab's tests)."""
    for pid, state in group_members(pgid):
        if state == "Z":
            with suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


async def test_echo_returns_its_output_and_status_zero(exec_twin: ExecTwin) -> None:
    async with open_exec(HOST, exec_twin.port, token=TOKEN) as ex:
        result = await ex.run("echo hi")
    assert (result.stdout, result.status, result.reason) == (b"hi\n", 0, Reason.EXIT)


async def test_stderr_and_a_failing_status_come_back(exec_twin: ExecTwin) -> None:
    async with open_exec(HOST, exec_twin.port, token=TOKEN) as ex:
        result = await ex.run("echo oops >&2; exit 3")
        again = await ex.run("printf again")  # the connection goes on
    assert (result.stderr, result.status, result.stderr_bytes) == (b"oops\n", 3, 5)
    assert again.stdout == b"again"


async def test_output_that_fits_in_the_pipe_comes_back_whole(exec_twin: ExecTwin) -> None:
    async with open_exec(HOST, exec_twin.port, token=TOKEN) as ex:
        result = await ex.run("head -c 60000 /dev/zero")
    assert (result.stdout_bytes, len(result.stdout), result.status) == (60000, 60000, 0)


async def test_a_wrong_token_is_refused(exec_twin: ExecTwin) -> None:
    async with open_exec(HOST, exec_twin.port, token="wrong") as ex:
        with pytest.raises(AuthFailed):
            await ex.run("echo hi")


async def test_a_command_writing_200_KiB_never_ends_and_is_left_running(
    exec_twin: ExecTwin,
) -> None:
    pids: list[int] = []
    try:
        async with open_exec(HOST, exec_twin.port, token=TOKEN) as ex:
            with trio.move_on_after(2) as waited:
                await ex.run(f"head -c {BIG_OUTPUT} /dev/zero", on_started=pids.append)
        assert waited.cancelled_caught, "no EXIT and no error: the client gave up"
        (pid,) = pids
        await trio.sleep(0.3)
        assert running(pid), "the client has gone, the command is still there"
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    # Killed, the command exits; the twin reaps it, finds its client gone and ends.
    await wait_for(lambda: not running(pids[0]) and exec_twin.ended >= 1)
    reap_strays(pids[0])


async def test_the_tutorial_s_client_gets_length_ack_result(exec_twin: ExecTwin) -> None:
    async with await trio.open_tcp_stream(HOST, exec_twin.port) as conn:
        await conn.send_all(b"echo hi")
        assert await conn.receive_some(1024) == b"3"
        await conn.send_all(b"ok")
        assert await receive_exactly(conn, 3) == b"hi\n"
