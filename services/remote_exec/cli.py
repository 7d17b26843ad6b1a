"""``netlab exec``: the server (``serve``) and the client (``run``).

The commands only parse and forward: ``serve`` to
:func:`services.remote_exec.server.run`, ``run`` to the client library.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import trio

from services.remote_exec.client import (
    EXIT_AUTH,
    EXIT_PROTOCOL,
    EXIT_UNAVAILABLE,
    AuthFailed,
    ExecError,
    ExecProtocolError,
    ExecRefused,
    ExecResult,
    open_exec,
)
from services.remote_exec.config import TOKEN_ENV
from services.runtime.config import env_name
from services.runtime.options import server_options

DEFAULT_PORT = 8001
EXIT_INTERRUPTED = 130
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
STDIN_READ = 64 * 1024
F = TypeVar("F", bound=Callable[..., Any])


class ByteSize(click.ParamType):  # type: ignore[type-arg]
    """A byte count: ``1048576``, ``512K``, ``10M``, ``1G`` (binary units)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(value))
        if match is None:
            self.fail(f"{value!r} is not a size like 1048576, 512K, 10M or 1G", param, ctx)
        return int(match[1]) * UNITS[match[2].lower()]


SIZE = ByteSize()


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    flag = name.split("/")[0]
    return click.option(f"--{name}", envvar=env_name(flag), show_default=True, **kwargs)


@click.group()
def cli() -> None:
    """Remote command execution that streams, never deadlocks and leaves no process behind."""


@cli.command()
@server_options(default_port=DEFAULT_PORT)
@click.option("--token-file", envvar="NETLAB_EXEC_TOKEN_FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help=f"File whose first line is the shared token (else env {TOKEN_ENV}).")
@_option("shell", default="/bin/sh", help="Shell that runs each command as SHELL -c COMMAND.")
@_option("max-concurrent", type=click.IntRange(min=1), default=16,
         help="Commands running at once; more wait in line.")
@_option("max-queued", type=click.IntRange(min=0), default=64,
         help="Commands waiting for a slot at once; more are refused with 'busy'.")
@_option("queue-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0,
         help="Seconds a command may wait for a slot before it is refused with 'busy'.")
@_option("command-timeout", type=click.FloatRange(min=0, min_open=True), default=300.0,
         help="Wall-time limit of a command (clients may ask for less).")
@_option("output-limit", type=SIZE, default="1G",
         help="Bytes of stdout+stderr a command may print before it is killed.")
@_option("classic/--no-classic", default=True,
         help="Serve the tutorial's exec client (no token: anyone who connects can run commands).")
@_option("classic-output-limit", type=SIZE, default="64M",
         help="Output cap for classic clients (their answer is held whole).")
@_option("kill-grace", type=click.FloatRange(min=0, min_open=True), default=1.0,
         help="Seconds between SIGTERM and SIGKILL when a command's group is killed.")
def serve(**options: Any) -> None:
    """Run the exec server (netlab clients and the tutorial's exec client)."""
    from services.remote_exec.server import run

    try:
        run(token=os.environ.get(TOKEN_ENV), **options)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


async def _local_stdin() -> AsyncIterator[bytes]:
    """Our stdin, read in a thread (a terminal's fd must not be made non-blocking)."""
    read1: Callable[[int], bytes] = sys.stdin.buffer.read1  # type: ignore[union-attr]
    while data := await trio.to_thread.run_sync(read1, STDIN_READ, abandon_on_cancel=True):
        yield data


def _write(stream: Any) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        stream.write(data)
        stream.flush()

    return write


@cli.command(name="run")
@click.argument("command", nargs=-1, required=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Server address.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="Server port.")
@click.option("--token", envvar=TOKEN_ENV, default="",
              help=f"Shared token (better: env {TOKEN_ENV}, not visible in ps).")
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="File whose first line is the token.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Kill the command after this many seconds (exit status 124).")
@click.option("--stdin", "forward_stdin", is_flag=True,
              help="Send our stdin to the command (else it reads nothing).")
@click.option("--connect-timeout", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds to keep trying to connect.")
def run_command(command: tuple[str, ...], host: str, port: int, token: str,
                token_file: Path | None, timeout: float | None, forward_stdin: bool,
                connect_timeout: float) -> None:
    """Run COMMAND on the server with /bin/sh -c; its output streams here as it is produced.

    Several words are joined with spaces, as ssh does: quote a pipeline as
    one word. Exits with the command's exit status, 128+N if signal N ended
    it, 124 on its time limit, 125 on the output cap, 77 for a wrong token,
    69 if the server is unreachable or busy.
    """
    if token_file is not None:
        lines = token_file.read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""

    async def main() -> ExecResult:
        async with open_exec(host, port, token=token, connect_timeout=connect_timeout) as ex:
            return await ex.run(
                " ".join(command), timeout=timeout,
                stdin=_local_stdin() if forward_stdin else None,
                on_stdout=_write(sys.stdout.buffer), on_stderr=_write(sys.stderr.buffer),
                capture=False,
            )

    try:
        result = trio.run(main)
    except AuthFailed as exc:
        _fail(f"authentication failed ({exc.code}): {exc.message}; "
              f"set {TOKEN_ENV} or use --token-file", EXIT_AUTH)
    except ExecRefused as exc:
        _fail(f"refused ({exc.code}): {exc.message}", EXIT_UNAVAILABLE)
    except ExecProtocolError as exc:
        _fail(f"protocol error: {exc}", EXIT_PROTOCOL)
    except (ExecError, OSError) as exc:
        _fail(str(exc), EXIT_UNAVAILABLE)
    except KeyboardInterrupt:
        _fail("interrupted; the server kills the command", EXIT_INTERRUPTED)
    note = result.describe()
    if note:
        click.echo(f"netlab exec: {note}", err=True)
    sys.exit(result.exit_code)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"netlab exec: {message}", err=True)
    sys.exit(code)
