"""``netlab chat serve`` and ``netlab chat client``: parse options, forward them.

Nothing is built here (model: uvicorn's ``main.py``): ``serve`` hands one
:class:`ChatConfig` to :func:`services.runtime.main.main`, ``client`` its
options to :func:`run_client`; tests patch those two to check the parsing.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import click
import trio

from services.chat.config import DEFAULT_PORT, ChatConfig
from services.chat.server import process_server
from services.runtime.main import SERVER_EXIT_STATUSES, main
from services.runtime.options import (
    USAGE_ERROR,
    build_config,
    config_options,
    exit_statuses,
    option,
)
from services.runtime.retry import Backoff


@click.group()
def cli() -> None:
    """Chat: rooms and nicknames over lines of text (nc and telnet welcome)."""


@cli.command(epilog=exit_statuses(SERVER_EXIT_STATUSES))
@config_options(ChatConfig, port=DEFAULT_PORT)
def serve(**options: Any) -> None:
    """Run the chat server (SIGTERM or SIGINT: tell clients, close, exit 0)."""
    main(build_config(ChatConfig, options), process_server)


CLIENT_EXIT_STATUSES = {
    "0": "stdin ended (Ctrl-D, or the end of a piped file): the client said /quit",
    "1": "the server could not be reached, refused the nickname or room, kicked the client, "
         "or the connection was lost and reconnecting failed",
    **USAGE_ERROR,
}


@cli.command(epilog=exit_statuses(CLIENT_EXIT_STATUSES))
@option("host", default="127.0.0.1", help="Server address.")
@option("port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, help="Server port.")
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
