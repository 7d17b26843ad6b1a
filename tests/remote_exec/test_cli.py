"""``netlab exec``: option parsing (serve), and ``run`` as a user sees it (exit codes, streams)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio
from click.testing import CliRunner, Result

from services.remote_exec import cli as exec_cli
from services.remote_exec.config import DEFAULT_PORT, ExecConfig
from services.remote_exec.server import ExecServer
from tests.support.commands import recorded_main
from tests.support.servers import EXEC_TOKEN as TOKEN
from tests.support.servers import start_exec


async def netlab_exec_run(port: int, *args: str, token: str = TOKEN,
                          stdin: bytes = b"") -> trio.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETLAB_")}
    env["NETLAB_EXEC_TOKEN"] = token
    with trio.fail_after(30):
        return await trio.run_process(
            [sys.executable, "-m", "netlab", "exec", "run", "--port", str(port), *args],
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
    assert b"--token" in done.stderr and b"NETLAB_EXEC_TOKEN" in done.stderr
    assert b"netlab-lab" in done.stderr  # the lab's default, for a learner who never set one
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


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[ExecConfig]:
    """The configs ``serve`` would run, instead of running them."""
    return recorded_main(monkeypatch, exec_cli, ExecServer)


def serve(*args: str, env: dict[str, str]) -> Result:
    return CliRunner().invoke(exec_cli.cli, ["serve", *args], env=env)


def test_serve_defaults_are_the_configs_on_the_exec_port(ran: list[ExecConfig]) -> None:
    result = serve(env={"NETLAB_EXEC_TOKEN": "tok"})
    assert result.exit_code == 0, result.output
    assert ran == [ExecConfig(port=DEFAULT_PORT, token="tok")]
    assert ran[0].output_limit == 1 << 30


def test_serve_options_env_vars_and_sizes_reach_the_config(ran: list[ExecConfig]) -> None:
    result = serve(
        "--port", "0", "--max-concurrent", "3", "--output-limit", "10M", "--no-classic",
        "--command-timeout", "5", "--classic-output-limit", "512K",
        env={"NETLAB_EXEC_TOKEN": "tok", "NETLAB_MAX_QUEUED": "7", "NETLAB_SHELL": "/bin/bash"},
    )
    assert result.exit_code == 0, result.output
    assert ran == [ExecConfig(
        port=0, token="tok", max_concurrent=3, max_queued=7, output_limit=10 << 20,
        classic=False, command_timeout=5.0, classic_output_limit=512 << 10, shell="/bin/bash",
    )]


def test_the_token_is_read_once_and_leaves_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str | None]] = []
    monkeypatch.setattr(exec_cli, "main", lambda config, server: seen.append(
        (config.token, os.environ.get("NETLAB_EXEC_TOKEN"))
    ))
    result = serve(env={"NETLAB_EXEC_TOKEN": " tok\n"})
    assert result.exit_code == 0, result.output
    assert seen == [("tok", None)]  # gone before the server (and its commands) start


def test_a_token_file_wins_and_its_first_line_is_the_token(
    ran: list[ExecConfig], tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text("from-file\nignored\n", encoding="utf-8")
    result = serve(env={"NETLAB_EXEC_TOKEN": "from-env", "NETLAB_EXEC_TOKEN_FILE": str(path)})
    assert result.exit_code == 0, result.output
    assert ran[0].token == "from-file"


def test_serve_without_a_token_is_a_usage_error(ran: list[ExecConfig]) -> None:
    result = serve(env={"NETLAB_EXEC_TOKEN": ""})
    assert (result.exit_code, ran) == (2, [])
    assert "token is required" in result.output


def test_an_unreadable_token_file_is_a_usage_error(
    ran: list[ExecConfig], tmp_path: Path
) -> None:
    result = serve("--token-file", str(tmp_path / "missing"), env={})
    assert (result.exit_code, ran) == (2, [])
    assert "cannot read the token file" in result.output


@pytest.mark.parametrize("args", [["--output-limit", "lots"], ["--max-concurrent", "0"],
                                  ["--kill-grace", "-1"]])
def test_a_bad_value_is_a_usage_error(ran: list[ExecConfig], args: list[str]) -> None:
    result = serve(*args, env={"NETLAB_EXEC_TOKEN": "tok"})
    assert (result.exit_code, ran) == (2, [])
