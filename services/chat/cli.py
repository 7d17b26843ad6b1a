"""``netlab chat serve`` and ``netlab chat client``: parse options, forward to ``run()``.

Nothing is built here (model: uvicorn's ``main.py``); tests patch the ``run``
functions to check the parsing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import click
import trio

from services.chat.client import Backoff
from services.chat.config import DEFAULT_MAX_RATE, DEFAULT_PORT, DEFAULT_QUEUE_SIZE, ChatConfig
from services.chat.detect import DEFAULT_WINDOW
from services.chat.directory import NOTICE_LIMIT
from services.chat.protocol import DEFAULT_MAX_LINE
from services.runtime.config import env_name
from services.runtime.options import server_options

F = TypeVar("F", bound=Callable[..., Any])


def _option(name: str, **kwargs: Any) -> Callable[[F], F]:
    """A chat option that the ``NETLAB_*`` env var of the same name also sets."""
    return click.option(f"--{name}", envvar=env_name(name), show_default=True, **kwargs)


@click.group()
def cli() -> None:
    """Chat: rooms and nicknames over lines of text (nc and telnet welcome)."""


@cli.command()
@server_options(default_port=DEFAULT_PORT)
@_option("max-line", type=click.IntRange(16, 65536), default=DEFAULT_MAX_LINE,
         help="Longest line a client may send, in bytes.")
@_option("queue-size", type=click.IntRange(min=1), default=DEFAULT_QUEUE_SIZE,
         help="Lines queued for one client before it is dropped as a slow consumer.")
@_option("classic-window", type=click.FloatRange(0, 10, min_open=True), default=DEFAULT_WINDOW,
         help="Seconds after a client's first byte to wait for a newline before "
              "treating it as the tutorial's (classic) client.")
@_option("max-rate", type=click.FloatRange(min=0), default=DEFAULT_MAX_RATE,
         help="Lines per second read from one client (after a burst of as many); "
              "faster senders are slowed down. 0: no limit.")
@_option("notice-limit", type=click.IntRange(min=0), default=NOTICE_LIMIT,
         help="Rooms with more members than this get no join/leave/rename notices.")
@click.option("--console/--no-console", envvar=env_name("console"), default=True,
              show_default=True,
         help="Read operator commands from stdin and show what classic clients say on stdout.")
def serve(**options: Any) -> None:
    """Run the chat server (SIGTERM or SIGINT: tell clients, close, exit 0)."""
    run_serve(**options)


def run_serve(**options: Any) -> None:
    """Forward parsed options to the server."""
    from services.chat.server import main

    main(ChatConfig(**options))


@cli.command()
@_option("host", default="127.0.0.1", help="Server address.")
@_option("port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, help="Server port.")
@click.option("--nick", help="Nickname to take (default: the guest name the server gives).")
@click.option("--room", help="Room to join (default: lobby).")
@click.option("--attempts", type=click.IntRange(min=1), default=6, show_default=True,
              help="Connection attempts in a row before giving up.")
@click.option("--backoff", "initial", type=click.FloatRange(min=0), default=0.2,
              show_default=True, help="First retry delay in seconds; doubles up to --max-delay.")
@click.option("--max-delay", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Longest retry delay in seconds.")
def client(
    host: str, port: int, nick: str | None, room: str | None, attempts: int, initial: float,
    max_delay: float,
) -> None:
    """Chat interactively: type lines, see who joins and leaves; EOF on stdin quits."""
    status = run_client(
        host=host, port=port, nick=nick, room=room,
        backoff=Backoff(attempts=attempts, initial=initial, max_delay=max_delay),
    )
    sys.exit(status)


def run_client(
    *, host: str, port: int, nick: str | None, room: str | None, backoff: Backoff
) -> int:
    """Run the interactive client on the process's stdin/stdout; its exit status."""
    from services.chat.interactive import InteractiveClient
    from services.chat.stdio import FdReceiveStream, FdSendStream

    interactive = InteractiveClient(
        host=host, port=port, nick=nick, room=room, backoff=backoff,
        stdin=FdReceiveStream(0), stdout=FdSendStream(1), stderr=FdSendStream(2),
    )
    return trio.run(partial(InteractiveClient.run, interactive))
