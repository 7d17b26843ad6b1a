"""The stdlib exec baseline: netlab's frames and the tutorial's exchange, its pipes read live."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest
import trio

from lab.bench.baselines.threaded_exec import PREFACE, ThreadedExecServer, run_collecting
from lab.bench.exec_clients import BlockingFramedClient, ClassicClient
from services.remote_exec.client import AuthFailed, open_exec
from services.wire.preface import encode_preface
from tests.lab.bench.exec_servers import TOKEN, running_baseline
from tests.support.ports import free_port

MiB = 1 << 20


@pytest.fixture
def framed() -> Iterator[ThreadedExecServer]:
    with running_baseline("framed") as server:
        yield server


@pytest.fixture
def classic() -> Iterator[ThreadedExecServer]:
    with running_baseline("classic") as server:
        yield server


async def test_framed_run_streams_both_outputs_and_the_status(
        framed: ThreadedExecServer) -> None:
    async with open_exec("127.0.0.1", framed.port, token=TOKEN) as ex:
        first = await ex.run("echo out; echo err >&2; exit 3")
        second = await ex.run("echo again")
    assert (first.status, first.stdout, first.stderr) == (3, b"out\n", b"err\n")
    assert (first.stdout_bytes, first.stderr_bytes) == (4, 4)
    assert (second.status, second.stdout) == (0, b"again\n")


async def test_framed_death_by_signal_is_reported(framed: ThreadedExecServer) -> None:
    async with open_exec("127.0.0.1", framed.port, token=TOKEN) as ex:
        result = await ex.run("kill -TERM $$")
    assert (result.status, result.signal) == (None, "SIGTERM")


async def test_a_wrong_token_is_refused_and_nothing_runs(framed: ThreadedExecServer) -> None:
    async with open_exec("127.0.0.1", framed.port, token="wrong") as ex:
        with pytest.raises(AuthFailed):
            await ex.run("echo never")


def test_output_larger_than_a_pipe_arrives_whole(framed: ThreadedExecServer) -> None:
    with BlockingFramedClient("127.0.0.1", framed.port, TOKEN, timeout=20).connect() as conn:
        ran = conn.run(f"head -c {3 * MiB} /dev/zero", keep=False)
    assert (ran.status, ran.stdout_bytes) == (0, 3 * MiB)


def test_a_bad_preface_closes_the_connection(framed: ThreadedExecServer) -> None:
    with socket.create_connection(("127.0.0.1", framed.port), timeout=10) as sock:
        sock.sendall(b"\x00netlab/1 chat\n")
        assert sock.recv(1024) == b""


def test_the_preface_is_netlabs() -> None:
    assert encode_preface("exec") == PREFACE


def test_classic_is_the_tutorials_exchange(classic: ThreadedExecServer) -> None:
    with socket.create_connection(("127.0.0.1", classic.port), timeout=10) as sock:
        sock.send(b"echo x")
        assert sock.recv(1024) == b"2"
        sock.send(b"ok")
        assert sock.recv(1024) == b"x\n"
        sock.send(b"echo oops >&2; exit 1")  # a failed command answers with its stderr
        assert sock.recv(1024) == b"5"
        sock.send(b"ok")
        assert sock.recv(1024) == b"oops\n"


def test_classic_output_larger_than_a_pipe_arrives_whole(classic: ThreadedExecServer) -> None:
    with ClassicClient("127.0.0.1", classic.port, timeout=20).connect() as conn:
        ran = conn.run(f"head -c {MiB} /dev/zero", keep=True)
    assert ran.stdout == bytes(MiB)


def test_both_pipes_are_read_while_the_command_runs() -> None:
    # 200 KiB on each stream: a pipe read only at the end would fill and hang the command.
    returncode, stdout, stderr = run_collecting(
        "head -c 204800 /dev/zero; head -c 204800 /dev/zero >&2; exit 4")
    assert (returncode, len(stdout), len(stderr)) == (4, 204800, 204800)


async def test_the_module_serves_until_sigterm() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "lab.bench.baselines.threaded_exec", "--host", "127.0.0.1",
            "--port", str(port), "--mode", "classic"]
    async with trio.open_nursery() as nursery:
        process = await nursery.start(trio.run_process, argv)
        with trio.fail_after(20):
            while True:
                try:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                    break
                except OSError:
                    await trio.sleep(0.05)
            await stream.send_all(b"echo hi")
            assert await stream.receive_some(1024) == b"3"
            await stream.aclose()
            process.terminate()
    assert process.returncode == 0
