"""The programs under examples/ (shown verbatim in docs/bring-your-own.md) work against netlab.

Each runs as a learner runs it, ``python3 examples/NAME.py HOST PORT`` with
its input piped in, against a server started in-process on a free port.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

from tests.support.docblocks import ROOT
from tests.support.servers import start_chat, start_exec, start_upload

EXAMPLES = ROOT / "examples"
RUN_TIMEOUT = 20


async def run_example(name: str, port: int, stdin: bytes, cwd: Path | None = None) -> str:
    """Run examples/NAME with ``stdin``; its output, once it exited 0."""
    with trio.fail_after(RUN_TIMEOUT):
        result = await trio.run_process(
            [sys.executable, str(EXAMPLES / name), "127.0.0.1", str(port)],
            stdin=stdin, capture_stdout=True, capture_stderr=True, cwd=cwd,
        )
    return result.stdout.decode("utf-8")


async def line_client(port: int, nick: str) -> trio.SocketStream:
    """A line-mode chat client (as ``nc``), named and in #lobby."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(f"/nick {nick}\n".encode())
    await read_until(stream, f"is now {nick}\n".encode())
    return stream


async def read_until(stream: trio.SocketStream, marker: bytes) -> bytes:
    received = b""
    with trio.fail_after(RUN_TIMEOUT):
        while marker not in received:
            chunk = await stream.receive_some()
            assert chunk, f"closed before {marker!r}: {received!r}"
            received += chunk
    return received


async def test_tutorial_chat_client_says_hello_and_hears_the_answer(
    nursery: trio.Nursery,
) -> None:
    chat = await start_chat(nursery)
    async with await line_client(chat.port, "bob") as bob:

        async def answer() -> None:
            await read_until(bob, b"> hello\n")
            await bob.send_all(b"hi back\n")

        nursery.start_soon(answer)
        out = await run_example("tutorial_chat_client.py", chat.port, b"hello\nexit\n")
    assert "[#lobby] <bob> hi back\n" in out


async def test_chat_listener_hears_others_without_ever_sending(nursery: trio.Nursery) -> None:
    chat = await start_chat(nursery)
    command = [sys.executable, str(EXAMPLES / "chat_listener.py"), "127.0.0.1", str(chat.port)]
    async with await line_client(chat.port, "bob") as bob:
        listener: trio.Process = await nursery.start(
            partial(trio.run_process, command, stdout=subprocess.PIPE, check=False)
        )
        assert listener.stdout is not None
        await wait_for_lobby_of(bob, 2)
        await bob.send_all(b"anyone there?\n")
        heard = b""
        with trio.fail_after(RUN_TIMEOUT):
            while b"<bob> anyone there?\n" not in heard:
                chunk = await listener.stdout.receive_some()
                assert chunk, heard
                heard += chunk
        listener.terminate()


async def wait_for_lobby_of(client: trio.SocketStream, members: int) -> None:
    """Ask /who until #lobby has ``members`` members (the listener has joined)."""
    with trio.fail_after(RUN_TIMEOUT):
        while True:
            await client.send_all(b"/who\n")
            answer = await read_until(client, b"= who #lobby ")
            line = answer.split(b"= who #lobby ", 1)[1]
            if not line.endswith(b"\n"):
                line += await read_until(client, b"\n")
            if int(line.split()[0]) >= members:
                return


async def test_tutorial_exec_client_runs_linux_commands(nursery: trio.Nursery) -> None:
    server = await start_exec(nursery)
    out = await run_example(
        "tutorial_exec_client.py", server.port, "echo héllo\ntrue\nls /\nexit\n".encode()
    )
    assert "héllo\n" in out
    assert "bin\n" in out


async def test_tutorial_upload_client_stores_a_file_twice(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_upload(nursery, tmp_path / "uploads")
    (tmp_path / "digits.txt").write_bytes(b"0123456789")
    out = await run_example(
        "tutorial_upload_client.py", server.port, b"digits.txt\ndigits.txt\n", cwd=tmp_path
    )
    assert out.count("digits.txt: stored") == 2, out
    assert (tmp_path / "uploads" / "digits.txt").read_bytes() == b"0123456789"
