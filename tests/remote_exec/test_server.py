"""The exec server over loopback with real processes: streaming, statuses, stdin, tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import trio

from services.remote_exec.client import (
    AuthFailed,
    Busy,
    ExecConnectionError,
    ExecRefused,
    open_exec,
)
from services.remote_exec.events import Reason
from tests.support.servers import EXEC_TOKEN, StartExec
from tests.support.waiting import wait_for

MiB = 1 << 20


async def test_echo_runs_and_reports_exit_zero(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("echo hello")
    assert result.stdout == b"hello\n"
    assert (result.status, result.signal, result.reason) == (0, None, Reason.EXIT)
    assert result.exit_code == 0
    assert server.counters.extra["commands_started"] == 1
    assert server.counters.extra["ended_exited"] == 1


@pytest.mark.parametrize(("command", "status"), [
    ("true", 0), ("exit 1", 1), ("no-such-command-netlab", 127), ("exit 255", 255),
])
async def test_exit_statuses_are_reported(start_server: StartExec, command: str,
                                          status: int) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run(command)
    assert (result.status, result.signal, result.reason) == (status, None, Reason.EXIT)
    if status == 127:
        assert b"not found" in result.stderr


async def test_death_by_signal_is_reported(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("kill -TERM $$")
    assert (result.status, result.signal, result.reason) == (None, "SIGTERM", Reason.SIGNAL)
    assert result.exit_code == 128 + 15


async def test_100_mib_arrives_whole_and_in_order(start_server: StartExec) -> None:
    command = "seq 1 13000000 | head -c 104857600"
    local = await trio.run_process(["sh", "-c", command], capture_stdout=True)
    expected = hashlib.sha256(local.stdout).hexdigest()
    server = await start_server()
    digest = hashlib.sha256()
    size = 0

    def consume(data: bytes) -> None:
        nonlocal size
        digest.update(data)
        size += len(data)

    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(60):
            result = await ex.run(command, on_stdout=consume, capture=False)
    assert result.status == 0
    assert size == result.stdout_bytes == 100 * MiB
    assert digest.hexdigest() == expected


async def test_interleaved_stdout_and_stderr_land_on_their_streams(
    start_server: StartExec,
) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("i=0; while [ $i -lt 3000 ]; do i=$((i+1)); "
                              "echo out$i; echo err$i >&2; done")
    assert result.stdout == b"".join(b"out%d\n" % i for i in range(1, 3001))
    assert result.stderr == b"".join(b"err%d\n" % i for i in range(1, 3001))
    assert (result.stdout_bytes, result.stderr_bytes) == (len(result.stdout), len(result.stderr))


async def test_output_streams_before_the_command_ends(start_server: StartExec) -> None:
    server = await start_server()
    first = trio.Event()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:

        def seen(data: bytes) -> None:
            first.set()

        async with trio.open_nursery() as inner:
            inner.start_soon(lambda: ex.run("echo early; sleep 2; echo late", on_stdout=seen))
            with trio.fail_after(1.5):
                await first.wait()  # long before the command's 2 s are up
            inner.cancel_scope.cancel()


async def test_stdin_is_forwarded_both_ways_without_deadlock(start_server: StartExec) -> None:
    server = await start_server()
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: more than every pipe and socket buffer
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(20):
            result = await ex.run("cat", stdin=data)
        assert result.status == 0
        assert result.stdout == data
        result = await ex.run("wc -c", stdin=b"")
        assert result.stdout.strip() == b"0"


async def test_without_stdin_the_command_reads_nothing(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("cat; echo done")
    assert result.stdout == b"done\n"


async def test_several_commands_run_on_one_connection(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        outputs = [(await ex.run(f"echo {i}")).stdout for i in range(5)]
    assert outputs == [b"%d\n" % i for i in range(5)]


async def test_the_token_is_not_in_the_command_environment(
    start_server: StartExec, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETLAB_EXEC_TOKEN", EXEC_TOKEN)
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("echo \"[$NETLAB_EXEC_TOKEN]\"")
    assert result.stdout == b"[]\n"


@pytest.mark.parametrize(
    "token", ["wrong", "", EXEC_TOKEN + "x", EXEC_TOKEN[:-1], "s3cret-tokeN", "S3cret-token"]
)
async def test_wrong_or_missing_token_runs_nothing(
    start_server: StartExec, tmp_path: Path, token: str
) -> None:
    server = await start_server()
    flag = tmp_path / "ran"
    async with open_exec("127.0.0.1", server.port, token=token) as ex:
        with pytest.raises(AuthFailed) as info:
            await ex.run(f"touch {flag}")
        assert info.value.fatal
        assert "--token" in info.value.message and "NETLAB_EXEC_TOKEN" in info.value.message
        assert "netlab-lab" in info.value.message
        with pytest.raises(ExecConnectionError):  # the server closed the connection
            await ex.run("true")
    # The connection is over, so nothing it asked for can still start.
    await wait_for(lambda: server.counters.connections_open == 0)
    assert not flag.exists()
    assert server.counters.extra["commands_started"] == 0
    assert server.counters.extra["auth_failed"] == 1


async def test_a_timeout_is_reported_as_such(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run("echo started; sleep 30", timeout=0.3)
    assert result.reason is Reason.TIMEOUT
    assert result.stdout == b"started\n"
    assert result.signal == "SIGTERM"
    assert result.exit_code == 124
    assert result.timeout == 0.3


async def test_the_server_limit_caps_the_client_timeout(start_server: StartExec) -> None:
    server = await start_server(command_timeout=0.3)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run("sleep 30", timeout=100)
    assert result.reason is Reason.TIMEOUT
    assert result.timeout == 0.3


async def test_the_output_cap_delivers_exactly_the_limit_then_kills(
    start_server: StartExec,
) -> None:
    server = await start_server(output_limit=100_000)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with trio.fail_after(5):
            result = await ex.run("yes netlab")
    assert result.reason is Reason.OUTPUT_LIMIT
    assert len(result.stdout) == result.stdout_bytes == 100_000
    assert result.stdout == (b"netlab\n" * 20_000)[:100_000]
    assert result.exit_code == 125
    assert server.counters.extra["ended_output-limit"] == 1


async def test_output_exactly_at_the_cap_is_not_cut(start_server: StartExec) -> None:
    server = await start_server(output_limit=6)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        result = await ex.run("printf abc; printf def >&2")
    assert result.reason is Reason.EXIT
    assert (result.stdout, result.stderr) == (b"abc", b"def")


async def test_extra_commands_wait_in_line_then_run(start_server: StartExec) -> None:
    server = await start_server(max_concurrent=1, queue_timeout=5)
    positions: list[int] = []
    results: dict[str, bytes] = {}

    async def client(name: str, command: str) -> None:
        async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
            results[name] = (await ex.run(command, on_queued=positions.append)).stdout

    async with trio.open_nursery() as clients:
        clients.start_soon(client, "first", "sleep 0.5; echo first")
        await wait_for(lambda: server.server.ctx.admission.running == 1)
        clients.start_soon(client, "second", "echo second")
        await wait_for(lambda: server.server.ctx.admission.waiting == 1)
        assert "second" not in results
    assert results == {"first": b"first\n", "second": b"second\n"}
    assert positions == [1]
    assert server.counters.extra["commands_queued"] == 1


async def test_a_full_queue_refuses_with_busy_and_keeps_the_connection(
    start_server: StartExec,
) -> None:
    server = await start_server(max_concurrent=1, max_queued=0)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as holder, \
            open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as other, \
            trio.open_nursery() as clients:
        clients.start_soon(holder.run, "sleep 1")
        await wait_for(lambda: server.server.ctx.admission.running == 1)
        with pytest.raises(Busy) as info:
            await other.run("echo never")
        assert not info.value.fatal
        await wait_for(lambda: server.server.ctx.admission.running == 0)
        assert (await other.run("echo later")).stdout == b"later\n"
    assert server.counters.extra["refused_busy"] == 1


async def test_a_wait_past_the_queue_timeout_is_refused_with_busy(
    start_server: StartExec,
) -> None:
    server = await start_server(max_concurrent=1, queue_timeout=0.3)
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as holder, \
            open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as other, \
            trio.open_nursery() as clients:
        clients.start_soon(holder.run, "sleep 2")
        await wait_for(lambda: server.server.ctx.admission.running == 1)
        start = trio.current_time()
        with pytest.raises(Busy):
            await other.run("echo never")
        assert 0.25 < trio.current_time() - start < 2
        clients.cancel_scope.cancel()


async def test_empty_command_is_refused_without_closing(start_server: StartExec) -> None:
    server = await start_server()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with pytest.raises(ExecRefused) as info:
            await ex.run("   ")
        assert info.value.code == "bad-command"
        assert (await ex.run("echo ok")).stdout == b"ok\n"


async def test_spawn_failure_is_reported(start_server: StartExec) -> None:
    server = await start_server(shell="/nonexistent/shell")
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with pytest.raises(ExecRefused) as info:
            await ex.run("true")
    assert info.value.code == "spawn-failed"


async def test_the_library_can_cancel_a_running_command(start_server: StartExec) -> None:
    server = await start_server()
    cancel = trio.Event()
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:

        def seen(data: bytes) -> None:
            cancel.set()

        with trio.fail_after(5):
            result = await ex.run("echo go; sleep 30", on_stdout=seen, cancel=cancel)
        assert result.reason is Reason.CANCELLED
        assert result.stdout == b"go\n"
        assert (await ex.run("echo still usable")).stdout == b"still usable\n"
    assert server.counters.extra["ended_cancelled"] == 1


async def test_wrong_tokens_from_one_address_are_rate_limited(start_server: StartExec) -> None:
    """Point 14: after 5 wrong tokens in a minute, even the right token is refused at once."""
    server = await start_server(auth_max_failures=5, auth_block=60)
    for _ in range(5):
        async with open_exec("127.0.0.1", server.port, token="guess") as ex:
            with pytest.raises(AuthFailed):
                await ex.run("true")
    async with open_exec("127.0.0.1", server.port, token=EXEC_TOKEN) as ex:
        with pytest.raises(AuthFailed) as info:
            await ex.run("echo never")
    assert "too many wrong tokens" in info.value.message
    assert server.counters.extra["auth_failed"] == 5
    assert server.counters.extra["auth_throttled"] == 1
    assert server.counters.errors_by_reason["auth-throttled"] == 1
    assert server.counters.extra["commands_started"] == 0
