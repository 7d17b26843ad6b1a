"""``netlab upload``: the server (``serve``) and the client commands (put, get, list, stat).

The commands only parse and forward: ``serve`` one :class:`UploadConfig` to
:func:`services.runtime.main.main`, the client commands to :mod:`services.upload.client`.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
import trio
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from services.runtime.main import SERVER_EXIT_STATUSES, main
from services.runtime.options import USAGE_ERROR, build_config, config_options, exit_statuses
from services.upload.client import (
    UploadError,
    UploadRefused,
    get_resuming,
    open_upload,
    put_resuming,
)
from services.upload.config import DEFAULT_PORT, UploadConfig
from services.upload.server import UploadServer

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

CLIENT_EXIT_STATUSES = {
    "0": "done",
    "1": "the server refused (the message names the protocol's error code), could not be "
         "reached, or the connection broke and the retries ran out",
    **USAGE_ERROR,
}
CLIENT_EPILOG = exit_statuses(CLIENT_EXIT_STATUSES)


@click.group()
def cli() -> None:
    """Verified, atomic, resumable file uploads: server and client."""


@cli.command(epilog=exit_statuses(SERVER_EXIT_STATUSES))
@config_options(UploadConfig, port=DEFAULT_PORT)
def serve(**options: Any) -> None:
    """Run the upload server (for netlab and tutorial clients)."""
    main(build_config(UploadConfig, options), UploadServer)


def client_options(func: F) -> F:
    """Where the server is, and how long to wait for it."""
    decorators = [
        click.option("--host", default="127.0.0.1", show_default=True, help="Server address."),
        click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT,
                     show_default=True, help="Server port."),
        click.option("--connect-timeout", type=click.FloatRange(min=0), default=5.0,
                     show_default=True, help="Seconds to keep trying to connect."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
                     show_default=True, help="Seconds to wait for the server at any step."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run a client coroutine; turn its errors into a message and exit status 1."""
    try:
        return trio.run(work)
    except UploadRefused as exc:
        raise click.ClickException(f"refused ({exc.code}): {exc.message}") from None
    except (UploadError, OSError) as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, silent when stderr is not a terminal."""
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@cli.command(epilog=CLIENT_EPILOG)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Name to store the file under (default: the file's name).")
@click.option("--overwrite", is_flag=True, help="Replace a stored file of the same name.")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Reconnect and resume this many times after an interruption.")
@client_options
def put(file: Path, name: str | None, overwrite: bool, retries: int, host: str, port: int,
        connect_timeout: float, timeout: float) -> None:
    """Upload FILE; prints the stored name, size and SHA-256."""
    with progress_bar(f"put {file.name}") as progress:
        stored = _run(lambda: put_resuming(
            host, port, file, name=name, overwrite=overwrite, retries=retries,
            progress=progress, timeout=timeout, connect_timeout=connect_timeout))
    click.echo(f"stored {stored.name} {stored.size} bytes sha256={stored.sha256}")


@cli.command(epilog=CLIENT_EPILOG)
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save (default: NAME in the current directory).")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Reconnect and resume this many times after an interruption.")
@client_options
def get(name: str, output: Path | None, retries: int, host: str, port: int,
        connect_timeout: float, timeout: float) -> None:
    """Download NAME, verifying its SHA-256; resumes from DEST.part."""
    dest = output or Path(Path(name).name)
    with progress_bar(f"get {name}") as progress:
        info = _run(lambda: get_resuming(
            host, port, name, dest, retries=retries, progress=progress, timeout=timeout,
            connect_timeout=connect_timeout))
    click.echo(f"saved {dest} {info.size} bytes sha256={info.sha256} (verified)")


@cli.command(name="list", epilog=CLIENT_EPILOG)
@client_options
def list_files(host: str, port: int, connect_timeout: float, timeout: float) -> None:
    """List stored files: size, modification time (UTC) and name."""

    async def talk() -> None:
        async with open_upload(host, port, connect_timeout=connect_timeout,
                               timeout=timeout) as up:
            for info in await up.list():
                when = datetime.datetime.fromtimestamp(info.mtime, datetime.UTC)
                click.echo(f"{info.size:>12}  {when:%Y-%m-%d %H:%M:%S}  {info.name}")

    _run(talk)


@cli.command(epilog=CLIENT_EPILOG)
@click.argument("name")
@client_options
def stat(name: str, host: str, port: int, connect_timeout: float, timeout: float) -> None:
    """Show one stored file's size, time and SHA-256."""

    async def talk() -> None:
        async with open_upload(host, port, connect_timeout=connect_timeout,
                               timeout=timeout) as up:
            info = await up.stat(name)
        when = datetime.datetime.fromtimestamp(info.mtime, datetime.UTC)
        click.echo(f"name: {info.name}\nsize: {info.size}\nsha256: {info.sha256}\n"
                   f"mtime: {when:%Y-%m-%dT%H:%M:%SZ}")

    _run(talk)

