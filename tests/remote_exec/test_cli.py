"""``netlab exec``: option parsing (serve), and ``run`` as a user sees it (exit codes, streams)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from services.remote_exec import cli as exec_cli
from services.remote_exec import server as exec_server
from tests.support.servers import EXEC_TOKEN as TOKEN
from tests.support.servers import start_exec


async def netlab_exec_run(port: int, *args: str, token: str = TOKEN,
                          stdin: bytes = b"") -> trio.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETLAB_")}
    env["NETLAB_EXEC_TOKEN"] = token
    with trio.fail_after(30):
        return await trio.run_process(
            [sys.executable, "-m", "services", "exec", "run", "--port", str(port), *args],
            stdin=stdin, capture_stdout=True, capture_stderr=True, check=False, env=env,
        )


async def test_run_streams_output_and_exits_with_the_status(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


async def test_run_joins_words_like_ssh(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--", "echo", "hello", "world")
    assert (done.returncode, done.stdout) == (0, b"hello world\n")


async def test_run_forwards_stdin(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--stdin", "--", "tr a-z A-Z", stdin=b"netlab\n")
    assert (done.returncode, done.stdout) == (0, b"NETLAB\n")


async def test_run_with_a_wrong_token_says_so(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--", "echo no", token="nope")
    assert done.returncode == 77
    assert b"authentication failed" in done.stderr
    assert done.stdout == b""


async def test_run_timeout_exits_124_with_a_message(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--timeout", "0.3", "--", "sleep 30")
    assert done.returncode == 124
    assert b"time limit of 0.3 s" in done.stderr


async def test_run_signal_exits_128_plus_n(nursery: trio.Nursery) -> None:
    port = (await start_exec(nursery)).port
    done = await netlab_exec_run(port, "--", "kill -KILL $$")
    assert done.returncode == 128 + 9


async def test_run_without_a_server_exits_69() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    done = await netlab_exec_run(port, "--connect-timeout", "0.3", "--", "true")
    assert done.returncode == 69
    assert b"cannot connect" in done.stderr


def test_serve_forwards_options_and_reads_the_token_from_the_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(exec_server, "run", lambda **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(
        exec_cli.cli,
        ["serve", "--port", "0", "--max-concurrent", "3", "--output-limit", "10M",
         "--no-classic", "--command-timeout", "5"],
        env={"NETLAB_EXEC_TOKEN": "tok", "NETLAB_MAX_QUEUED": "7"},
    )
    assert result.exit_code == 0, result.output
    assert seen["token"] == "tok"
    assert seen["max_concurrent"] == 3
    assert seen["max_queued"] == 7
    assert seen["output_limit"] == 10 << 20
    assert seen["classic"] is False
    assert seen["command_timeout"] == 5.0


def test_serve_without_a_token_fails_clearly(tmp_path: Path) -> None:
    env = {"NETLAB_EXEC_TOKEN": ""}
    result = CliRunner().invoke(exec_cli.cli, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 1
    assert "token is required" in result.output


def test_token_file_first_line_is_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("from-file\nignored\n", encoding="utf-8")
    assert exec_server.read_token("from-env", path) == "from-file"
    assert exec_server.read_token(" from-env\n", None) == "from-env"
