"""The standby: the next command's process, switched to its uid ahead, runs it as if started then.

The waiter's exactness is checked against ``sh -c`` with plain subprocesses
(any user); the standby in a server needs the sandbox, so root.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import trio

from services.remote_exec.client import open_exec
from services.remote_exec.sandbox import HOME_PREFIX, parse_uid_range, processes_of
from services.remote_exec.standby import (
    MAX_COMMAND,
    WAITER,
    WAITER_SHELL,
    Standby,
    encode_command,
    fits,
)
from tests.support.servers import EXEC_TOKEN, ExecHandle, StartExec
from tests.support.uids import sandbox_uids
from tests.support.waiting import wait_for

UIDS = sandbox_uids()  # this test process's own block (tests.support.uids)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")

TRICKY = [
    b"true",
    b"echo x",
    b"exit 7",
    b"  echo 'leading and trailing blanks'   ",
    b"echo a\necho b\n",
    b"echo a\n\n\necho b",
    b"printf '%s|' \"$0\" \"$#\" 'back\\\\slash' '\\t'; echo",
    b"echo continued \\\nline",
    b"echo $LINENO; echo $LINENO",
    b"echo \xff\xfe not UTF-8 \r",
    b"if",  # a syntax error: the same message, the same status
    b"no-such-command-here",
    b"cat; echo cat=$?",  # stdin: /dev/null
    b"ls -l /proc/self/fd/ | tail -n +2 | wc -l; readlink /proc/self/fd/0",
    b"tr '\\0' ' ' </proc/$$/cmdline; echo",
    b"env | sort",
    b"set | grep -c netlab_",
]


def sh_c(command: bytes) -> tuple[int, bytes, bytes]:
    done = subprocess.run([WAITER_SHELL, "-c", command], stdin=subprocess.DEVNULL,
                          capture_output=True, start_new_session=True, timeout=10, check=False)
    return done.returncode, done.stdout, done.stderr


def through_waiter(command: bytes) -> tuple[int, bytes, bytes]:
    waiter = subprocess.Popen([WAITER_SHELL, "-c", WAITER, WAITER_SHELL], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    out, err = waiter.communicate(encode_command(command), timeout=10)
    return waiter.returncode, out, err


@pytest.mark.parametrize("command", TRICKY, ids=range(len(TRICKY)))
def test_the_waiter_runs_a_command_exactly_as_sh_c_does(command: bytes) -> None:
    assert through_waiter(command) == sh_c(command)


def test_a_command_is_sent_as_its_line_count_then_itself() -> None:
    assert encode_command(b"true") == b"1\ntrue\n"
    assert encode_command(b"a\nb\n") == b"3\na\nb\n\n"


def test_only_short_commands_without_nul_are_taken() -> None:
    assert fits("echo é") == "echo é".encode()
    assert fits(b"x" * MAX_COMMAND) is not None
    assert fits(b"x" * (MAX_COMMAND + 1)) is None
    assert fits(b"echo \x00") is None


def the_standby(server: ExecHandle) -> Standby:
    standby = server.server.ctx.standby
    assert standby is not None
    return standby


async def ready_pid(server: ExecHandle, other_than: int | None = None) -> int:
    """The pid of the standby once one (not ``other_than``) waits."""
    standby = the_standby(server)
    await wait_for(lambda: standby.pid not in (None, other_than))
    assert standby.pid is not None
    return standby.pid


@needs_root
async def test_each_command_takes_the_standby_that_waited_for_it(start_server: StartExec) -> None:
    server = await start_server(sandbox_uids=UIDS)
    last = None
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(20):
            for _ in range(3):
                pid = last = await ready_pid(server, other_than=last)
                uid = the_standby(server).uid
                result = await ex.run("id -u; pwd; echo $HOME")
                assert result.pid == pid and result.status == 0
                got_uid, cwd, home = result.stdout.decode().split()
                assert int(got_uid) == uid and cwd == home
                assert os.path.basename(home).startswith(f"{HOME_PREFIX}{uid}-")
                assert not await trio.Path(home).exists()
                assert not list(processes_of(uid))
    assert server.counters.extra["standby_taken"] == 3


@needs_root
async def test_the_standby_gives_a_command_the_environment_of_a_fresh_start(
    start_server: StartExec,
) -> None:
    with_standby = await start_server(sandbox_uids=UIDS)
    without = await start_server(sandbox_uids=UIDS, standby=False)
    command = "env | grep -v -e ^HOME= -e ^PWD= | sort; umask; ulimit -a; trap; echo $-"
    outputs = []
    for server in (with_standby, without):
        async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
            with trio.fail_after(10):
                if server is with_standby:
                    await ready_pid(server)
                outputs.append((await ex.run(command)).stdout)
    assert with_standby.counters.extra["standby_taken"] == 1
    assert without.server.ctx.standby is None
    assert outputs[0] == outputs[1] and b"PATH=" in outputs[0]


@needs_root
async def test_commands_with_stdin_or_long_texts_start_as_before(start_server: StartExec) -> None:
    server = await start_server(sandbox_uids=UIDS)
    long_command = "echo " + "x" * MAX_COMMAND
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            waiting = await ready_pid(server)
            piped = await ex.run("tr a-z A-Z", stdin=b"netlab")
            long = await ex.run(long_command)
    assert piped.stdout == b"NETLAB" and long.stdout == b"x" * MAX_COMMAND + b"\n"
    assert waiting not in (piped.pid, long.pid)
    assert server.counters.extra["standby_taken"] == 0
    assert the_standby(server).pid == waiting  # still there for the next short command


@needs_root
async def test_a_standby_found_dead_gives_way_to_a_fresh_start(start_server: StartExec) -> None:
    server = await start_server(sandbox_uids=UIDS)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            dead = await ready_pid(server)
            uid = the_standby(server).uid
            assert uid is not None
            os.killpg(dead, signal.SIGKILL)
            await wait_for(lambda: not any(p.pid == dead and not p.dead
                                           for p in processes_of(uid)))
            result = await ex.run("echo fresh")
            assert result.stdout == b"fresh\n" and result.pid != dead
            await ready_pid(server, other_than=dead)  # a new one waits
            await wait_for(lambda: not list(processes_of(uid)))  # the dead one's uid: ended
    assert server.counters.extra["standby_taken"] == 0


@needs_root
async def test_shutdown_ends_the_standby_and_gives_its_uid_back(start_server: StartExec) -> None:
    server = await start_server(sandbox_uids=UIDS)
    with trio.fail_after(10):
        await ready_pid(server)
        uid = the_standby(server).uid
        assert uid is not None
        server.lifecycle.request_shutdown("test")
        await server.lifecycle.stopped.wait()
        pool = server.server.ctx.uid_pool
        assert pool is not None
        await wait_for(lambda: pool.free == pool.size)
    assert the_standby(server).pid is None
    assert not list(processes_of(uid))
    assert not [name for name in os.listdir("/tmp") if name.startswith(f"{HOME_PREFIX}{uid}-")]


@needs_root
async def test_no_standby_takes_a_uid_a_command_may_need(start_server: StartExec) -> None:
    first = parse_uid_range(UIDS)[0]
    server = await start_server(sandbox_uids=f"{first}-{first + 1}", max_concurrent=2)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            results = [await ex.run("echo $((6 * 7))") for _ in range(3)]
    assert [r.stdout for r in results] == [b"42\n"] * 3
    assert the_standby(server).held == 0
    assert server.counters.extra["standby_taken"] == 0
