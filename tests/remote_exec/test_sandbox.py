"""Each command under its own uid: it cannot reach the server, and nothing of it outlives it.

The sandbox needs root (CAP_SETUID, CAP_SETGID, CAP_CHOWN,
CAP_DAC_READ_SEARCH); these tests skip otherwise, except the ``sandbox=off``
log line.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
import trio

from services.remote_exec import sandbox
from services.remote_exec.client import open_exec
from services.remote_exec.sandbox import HOME_PREFIX, parse_uid_range, processes_of
from tests.support.servers import EXEC_TOKEN, ExecHandle, StartExec
from tests.support.uids import sandbox_uids

UIDS = sandbox_uids()  # this test process's own block (tests.support.uids)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


def zombie_children() -> list[int]:
    """Our children that have exited and were not reaped."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="utf-8") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me and fields.get("State", "").split()[:1] == ["Z"]:
            found.append(int(entry))
    return found


def every_uid_back(server: ExecHandle) -> bool:
    """Every uid is back in the pool, but the one the standby holds for the next command."""
    ctx = server.server.ctx
    held = ctx.standby.held if ctx.standby is not None else 0
    return ctx.uid_pool is not None and ctx.uid_pool.free + held == ctx.uid_pool.size


@needs_root
async def test_a_command_runs_under_a_uid_of_the_pool_in_its_own_home(
    start_server: StartExec,
) -> None:
    server = await start_server(sandbox_uids=UIDS)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("id -u; id -g; id -G; echo $HOME; pwd; touch made-here && echo ok")
    uid, gid, groups, home, cwd, ok = result.stdout.decode().split("\n")[:6]
    assert int(uid) in parse_uid_range(UIDS)
    assert gid == uid and groups == uid  # no supplementary group (root's or anyone's)
    assert home == cwd and os.path.basename(home).startswith(HOME_PREFIX + uid)
    assert ok == "ok"
    assert not await trio.Path(home).exists()  # removed with the command


@needs_root
async def test_a_command_cannot_stop_the_server_or_read_its_environment(
    start_server: StartExec,
) -> None:
    server = await start_server(sandbox_uids=UIDS)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            # Only once it is sure the sandbox holds: a stopped server is this test process.
            assert int((await ex.run("id -u")).stdout) in parse_uid_range(UIDS)
            stop = await ex.run("kill -STOP $PPID")
            environ = await ex.run("cat /proc/$PPID/environ")
            memory = await ex.run("head -c 1 /proc/$PPID/mem")
            after = await ex.run("echo still here")
    assert stop.status != 0 and b"not permitted" in stop.stderr.lower()
    assert environ.status != 0 and environ.stdout == b""
    assert memory.status != 0 and memory.stdout == b""
    assert after.stdout == b"still here\n"


@needs_root
async def test_concurrent_commands_get_different_uids_and_cannot_signal_each_other(
    start_server: StartExec,
) -> None:
    server = await start_server(sandbox_uids=UIDS)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as first, \
            open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as second:
        victim_started = trio.Event()
        victim: dict[str, int] = {}

        def started(pid: int) -> None:
            victim["pid"] = pid
            victim_started.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: first.run("id -u; sleep 2", on_started=started))
            with trio.fail_after(5):
                await victim_started.wait()
            attack = await second.run(f"id -u; kill -KILL -{victim['pid']}")
            assert attack.status != 0


@needs_root
async def test_setsid_and_double_forks_end_with_their_command(start_server: StartExec) -> None:
    """Point 4: ``setsid sleep 600`` does not outlive its command, and EXIT does not wait."""
    server = await start_server(sandbox_uids=UIDS)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            result = await ex.run(
                "setsid sleep 600 & (setsid sh -c 'sleep 601 &' &); sleep 0.2; id -u; echo $!"
            )
    uid_text, escaped_text = result.stdout.decode().split()
    assert result.status == 0
    assert result.elapsed < 1.0  # no drain timeout waiting on an escaped pipe holder
    assert not await trio.Path(f"/proc/{escaped_text}").exists()
    assert not list(processes_of(int(uid_text)))


@needs_root
async def test_six_setsid_runs_leave_no_zombie(start_server: StartExec) -> None:
    """Point 4: six runs of ``setsid sleep 1 & sleep 0.1`` used to leave 7 defunct children."""
    server = await start_server(sandbox_uids=UIDS)
    before = set(zombie_children())  # other tests' leftovers, if any
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(20):
            for _ in range(6):
                result = await ex.run("setsid sleep 1 & sleep 0.1")
                assert result.status == 0
    assert set(zombie_children()) <= before
    assert every_uid_back(server)


SWITCHED = "id -u; id -g; id -G; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status"


def assert_switched(stdout: bytes) -> None:
    """``SWITCHED``'s output: a uid of the pool, its own gid only, no capability."""
    uid, gid, groups, *caps = stdout.decode().splitlines()
    assert int(uid) in parse_uid_range(UIDS)
    assert gid == uid and groups == uid
    assert [line.split()[1] for line in caps] == ["0000000000000000"] * 3


@needs_root
async def test_setpriv_switches_the_uid_and_drops_every_capability(
    start_server: StartExec, caplog: pytest.LogCaptureFixture
) -> None:
    if sandbox.find_setpriv() is None:
        pytest.skip("no setpriv here")
    with caplog.at_level(logging.INFO):
        server = await start_server(sandbox_uids=UIDS)
    assert "switch=/" in caplog.text and "setpriv" in caplog.text
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        assert_switched((await ex.run(SWITCHED)).stdout)


@needs_root
async def test_without_setpriv_the_server_forks_to_switch(
    start_server: StartExec, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "find_setpriv", lambda: None)
    with caplog.at_level(logging.INFO):
        server = await start_server(sandbox_uids=UIDS)
    assert "switch=fork" in caplog.text
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        assert_switched((await ex.run(SWITCHED)).stdout)


async def test_without_root_the_server_says_the_sandbox_is_off(
    start_server: StartExec, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        server = await start_server(sandbox_uids="off")
    assert "event=sandbox sandbox=off reason=" in caplog.text
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("id -u")
    assert int(result.stdout) == os.geteuid()


@needs_root
async def test_processes_holding_every_pid_are_still_ended(
    start_server: StartExec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork storm under pids_limit leaves no pid for the killing helper: kill by pid."""
    real_fork = os.fork
    refused = []

    def exhausted_twice() -> int:
        if len(refused) < 2:
            refused.append(True)
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_fork()

    server = await start_server(sandbox_uids=UIDS)
    monkeypatch.setattr(os, "fork", exhausted_twice)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(10):
            result = await ex.run("setsid sleep 600 & sleep 0.2; id -u; exit 3")
    # The shell's own status: its zombie is left to its Popen (else it would read 0).
    assert result.status == 3 and len(refused) == 2
    assert not list(processes_of(int(result.stdout.decode())))
    assert every_uid_back(server)


@needs_root
@pytest.mark.parametrize(("born", "helper"), [("none", False), ("root", False), ("uid", True)])
async def test_a_process_of_the_uid_born_while_proc_is_listed_is_still_killed(
    monkeypatch: pytest.MonkeyPatch, born: str, helper: bool
) -> None:
    """A process of the uid forking and exiting while ``/proc`` is listed can move its live
    child past the listing: the pids handed out meanwhile are looked at too."""
    uid = parse_uid_range(UIDS)[-1]
    owner = {"none": None, "root": 0, "uid": uid}[born]
    server_pid = os.getpid()
    real_scan = sandbox.processes_of
    children: list[subprocess.Popen[bytes]] = []

    def scan(of: int) -> Iterator[sandbox.ProcInfo]:
        listed = list(real_scan(of))
        if owner is not None and os.getpid() == server_pid and not children:
            children.append(subprocess.Popen(["sleep", "30"], user=owner, group=owner,
                                             extra_groups=[]))
        return iter(listed)

    forks = []
    real_fork = os.fork

    def counted_fork() -> int:
        forks.append(os.getpid())
        return real_fork()

    monkeypatch.setattr(sandbox, "processes_of", scan)
    monkeypatch.setattr(os, "fork", counted_fork)
    lease = sandbox.UidPool(range(uid, uid + 1)).lease()
    home = lease.make_home()
    try:
        with trio.fail_after(10):
            await lease.kill_all()
        assert forks == ([server_pid] if helper else [])
        assert lease.home is None and not await trio.Path(home).exists()
        if helper:
            assert children[0].wait(timeout=5) == -signal.SIGKILL
    finally:
        for child in children:
            child.kill()
            child.wait()
