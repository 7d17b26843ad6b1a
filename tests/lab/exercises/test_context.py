"""What a check is given: the learner's program, references, proxies, bounded socket calls."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trio

from lab.errors import ProgramFailed, UnknownExercise
from lab.exercises.context import CheckContext, _proc_listening, free_port, listening
from lab.proxy.toxics import Slicer

ONE_SHOT_SERVER = """\
import socket, sys
s = socket.create_server((sys.argv[1], int(sys.argv[2])))
conn, _ = s.accept()
print("accepted a client", flush=True)
"""


def context(tmp_path: Path, program: str = "", *, check: str = "a-check",
            seed: int = 7) -> CheckContext:
    path = tmp_path / "learner.py"
    path.write_text(program, encoding="utf-8")
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return CheckContext(exercise="first-connection", check=check, program_path=path,
                        seed=seed, port=free_port(), scratch=scratch, unprivileged=False)


async def echo(stream: trio.SocketStream) -> None:
    while data := await stream.receive_some(4096):
        await stream.send_all(data)


def test_the_kernel_table_tells_who_listens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert _proc_listening(port) is True
    assert _proc_listening(port) is False


async def test_listening_falls_back_to_connecting_without_procfs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("lab.exercises.context._proc_listening", lambda port: None)
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert await listening("127.0.0.1", server.getsockname()[1])
    assert not await listening("127.0.0.1", free_port())


def test_random_depends_on_the_seed_and_the_check_only(tmp_path: Path) -> None:
    draws = [context(tmp_path, check=check, seed=seed).random.random()
             for check, seed in [("a", 1), ("a", 1), ("b", 1), ("a", 2)]]
    assert draws[0] == draws[1]
    assert len(set(draws)) == 3


async def test_a_server_is_awaited_without_spending_its_one_client(tmp_path: Path) -> None:
    ctx = context(tmp_path, ONE_SHOT_SERVER)
    async with ctx.server_program() as program:
        assert program.alive
        assert "accepted" not in program.output
        async with await ctx.connect():
            assert await program.wait_output("accepted a client", 5)


async def test_a_server_that_crashes_first_fails_with_its_error(tmp_path: Path) -> None:
    ctx = context(tmp_path, "def broken(:\n")
    with pytest.raises(ProgramFailed, match=r"exited with status 1 before listening.*SyntaxError"):
        async with ctx.server_program():
            pass


async def test_a_server_that_never_listens_fails_in_time(tmp_path: Path) -> None:
    ctx = context(tmp_path, "import time\ntime.sleep(60)\n")
    with trio.fail_after(5), pytest.raises(ProgramFailed, match=f"never accepted on {ctx.port}"):
        async with ctx.server_program(listen_timeout=0.5):
            pass


async def test_a_client_gets_host_and_port(tmp_path: Path) -> None:
    ctx = context(tmp_path, "import sys\nprint(sys.argv[1:])\n")
    async with ctx.client_program() as program:
        assert await program.wait_output(f"['127.0.0.1', '{ctx.port}']", 10)


async def test_a_handler_serves_on_the_port_asked_for(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    async with ctx.reference_server(echo, port=ctx.port) as port, await ctx.connect() as stream:
        assert port == ctx.port
        await stream.send_all(b"ping\n")
        assert await ctx.recv_until(stream, b"\n", 5) == b"ping\n"


async def test_netlab_chat_serves_as_a_reference(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    async with ctx.reference_server("chat") as port, await ctx.connect(port) as stream:
        await stream.send_all(b"/nick ada\n/quit\n")
        said = await ctx.recv_all(stream, 5)
    assert b"ada" in said and said.endswith(b"= bye\n")


async def test_a_program_of_the_exercises_folder_serves_as_a_reference(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    async with ctx.reference_server("01-first-connection/reference_server.py") as port, \
            await ctx.connect(port) as stream:
        await stream.send_all(b"hello\n")
        assert await ctx.recv_until(stream, b"\n", 5) == b"hello\n"


async def test_an_unknown_reference_is_refused(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with pytest.raises(UnknownExercise, match="no reference server 'gopher'"):
        async with ctx.reference_server("gopher"):
            pass


async def test_a_proxy_relays_through_its_toxics(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    async with ctx.reference_server(echo) as upstream, \
            ctx.proxy(upstream, Slicer(name="slices", stream="downstream", average_size=2,
                                       delay=1)) as port, \
            await ctx.connect(port) as stream:
        await stream.send_all(b"0123456789\n")
        first = await stream.receive_some(4096)
        rest = await ctx.recv_until(stream, b"\n", 5)
    assert len(first) < 11
    assert first + rest == b"0123456789\n"


async def test_connect_to_nobody_is_the_programs_failure(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with pytest.raises(ProgramFailed, match=f"could not connect to {ctx.port}"):
        await ctx.connect()


async def test_recv_until_returns_what_came_on_close_or_timeout(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    left, right = trio.testing.memory_stream_pair()
    await left.send_all(b"abc")
    assert await ctx.recv_until(right, b"\n", 0.1) == b"abc"
    await left.send_all(b"de\nfg")
    got = await ctx.recv_until(right, lambda data: data.count(b"\n") == 1, 1)
    assert got.startswith(b"de\n")
    await left.aclose()
    assert await ctx.recv_all(right, 1) in (b"", b"fg")
