"""``netlab exec``: the server (``serve``) and the client (``run``).

The commands only parse and forward: ``serve`` one :class:`ExecConfig` to
:func:`services.runtime.main.main`, ``run`` to the client library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import trio

from services.remote_exec.client import (
    EXIT_AUTH,
    EXIT_OUTPUT_LIMIT,
    EXIT_PROTOCOL,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    AuthFailed,
    ExecError,
    ExecProtocolError,
    ExecRefused,
    ExecResult,
    open_exec,
)
from services.remote_exec.config import (
    DEFAULT_PORT,
    TOKEN_ENV,
    TOKEN_FILE_ENV,
    TOKEN_HINT,
    ExecConfig,
)
from services.remote_exec.server import ExecServer
from services.runtime.main import SERVER_EXIT_STATUSES, main
from services.runtime.options import USAGE_ERROR, build_config, config_options, exit_statuses

EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT): 128 + 2, as a shell reports it
STDIN_READ = 64 * 1024

RUN_EXIT_STATUSES = {
    "0-255": "the command's own exit status, when it exited by itself",
    "128+N": "signal N ended the command",
    str(EXIT_TIMEOUT): "the command ran past its time limit and was killed (as timeout(1))",
    str(EXIT_OUTPUT_LIMIT): "the command printed more than the output cap and was killed",
    str(EXIT_AUTH): "the server refused the token (auth-failed)",
    str(EXIT_UNAVAILABLE): "the server could not be reached, refused the command (busy, "
                           "shutting-down...) or the connection broke",
    str(EXIT_PROTOCOL): "the server sent bytes that break the protocol",
    str(EXIT_INTERRUPTED): "interrupted (Ctrl-C): the connection is closed, the server kills "
                           "the command",
    **USAGE_ERROR,
}
"""``netlab exec run``'s statuses; a command's own status may be any of them too."""


@click.group()
def cli() -> None:
    """Remote command execution that streams, never deadlocks and leaves no process behind."""


@cli.command(epilog=exit_statuses(SERVER_EXIT_STATUSES))
@config_options(ExecConfig, port=DEFAULT_PORT)
@click.option("--token-file", envvar=TOKEN_FILE_ENV,
              type=click.Path(dir_okay=False, path_type=Path),
              help=f"File whose first line is the shared token (else env {TOKEN_ENV}).")
def serve(token_file: Path | None, **options: Any) -> None:
    """Run the exec server (netlab clients and the tutorial's exec client)."""
    main(build_config(ExecConfig, options, token=take_token(token_file)), ExecServer)


def take_token(token_file: Path | None) -> str:
    """The server's shared secret, read once: ``token_file``'s first line, else the env var.

    The env var is removed either way: commands must not inherit it (and
    spawn faster without a copied environment).
    """
    token = os.environ.pop(TOKEN_ENV, "")
    return read_token_file(token_file) if token_file is not None else token.strip()


def read_token_file(path: Path) -> str:
    """The first line of ``path``, stripped (a file that cannot be read is a usage error)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read the token file: {exc}") from None
    return lines[0].strip() if lines else ""


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


@cli.command(name="run", epilog=exit_statuses(RUN_EXIT_STATUSES))
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
    it, or one of the statuses below.
    """
    if token_file is not None:
        token = read_token_file(token_file)

    async def execute() -> ExecResult:
        async with open_exec(host, port, token=token, connect_timeout=connect_timeout) as ex:
            return await ex.run(
                " ".join(command), timeout=timeout,
                stdin=_local_stdin() if forward_stdin else None,
                on_stdout=_write(sys.stdout.buffer), on_stderr=_write(sys.stderr.buffer),
                capture=False,
            )

    try:
        result = trio.run(execute)
    except AuthFailed as exc:
        # Our own hint, not the server's message: it names this client's options.
        _fail(f"authentication failed ({exc.code}): the server refused the token; "
              f"{TOKEN_HINT}, or use --token-file", EXIT_AUTH)
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
