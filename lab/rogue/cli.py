"""``lab rogue``: misbehaving peers, run in a container of their own by a peer fault.

Ops go to stdout as JSON lines; the rogue stops when stdin reaches EOF (the
harness closes it to revert the fault), when ``--hold`` seconds have passed,
or when the server has closed every connection, whichever comes first.
"""

from __future__ import annotations

import sys
from functools import partial

import click
import trio

from lab.rogue.peer import BEHAVIOURS, MAX_COUNT, MAX_HOLD, RogueSpec, run_rogues
from lab.rogue.wire import SERVICES
from services.remote_exec.config import LAB_TOKEN, TOKEN_ENV


@click.command()
@click.option("--service", type=click.Choice(SERVICES), required=True,
              help="Which protocol the rogue abuses.")
@click.option("--host", required=True, help="The server (or gateway route) to connect to.")
@click.option("--port", type=click.IntRange(1, 65535), required=True)
@click.option("--behaviour", type=click.Choice(BEHAVIOURS), required=True,
              help="How each connection misbehaves.")
@click.option("--count", type=click.IntRange(1, MAX_COUNT), default=1, show_default=True,
              help="Connections, all at once.")
@click.option("--hold", type=click.FloatRange(0, MAX_HOLD), default=10.0, show_default=True,
              help="Seconds each connection is held at most.")
@click.option("--token", envvar=TOKEN_ENV, default=LAB_TOKEN, show_default=True,
              help=f"Exec token for the requests that need one (${TOKEN_ENV}).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the garbage.")
@click.option("--ignore-stdin", is_flag=True,
              help="Do not stop at stdin's EOF (hold for --hold seconds regardless).")
def cli(service: str, host: str, port: int, behaviour: str, count: int, hold: float,
        token: str, seed: int, ignore_stdin: bool) -> None:
    """Open COUNT connections that misbehave; print what the server did, as ops."""
    spec = RogueSpec(service, host, port, behaviour, count, hold, token,  # type: ignore[arg-type]
                     seed)
    trio.run(partial(_main, spec, watch_stdin=not ignore_stdin))


async def _main(spec: RogueSpec, *, watch_stdin: bool) -> None:
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        if watch_stdin:
            nursery.start_soon(_stop_at_eof, stop)
        await run_rogues(spec, sys.stdout, stop)
        nursery.cancel_scope.cancel()


async def _stop_at_eof(stop: trio.Event) -> None:
    await trio.to_thread.run_sync(_read_to_eof, abandon_on_cancel=True)
    stop.set()


def _read_to_eof() -> None:
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    while stream.read(65536):
        pass
