"""``lab proxy``: the fault proxies and their control API on their own, outside the gateway.

For a server the lab does not run (a learner's own, on this machine)::

    lab proxy --proxy mine=127.0.0.1:9100=127.0.0.1:9000 --control 127.0.0.1:8475

relays 127.0.0.1:9100 to 127.0.0.1:9000 through the proxy ``mine``, whose
toxics the control API (the same as the gateway's, :mod:`lab.proxy.api`)
switches at runtime. The token comes from ``NETLAB_PROXY_TOKEN`` only (never
an argument, which ``ps`` would show); without one the API asks none and says
so. SIGTERM or SIGINT stops everything, exit status 0.

Resource handling: every listener lives in one nursery, cancelled on the signal.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from functools import partial

import click
import trio

from lab.errors import InvalidAddress
from lab.proxy.address import format_host_port, parse_host_port
from lab.proxy.api import ControlAPI
from lab.proxy.guard import Guard
from lab.proxy.proxy import Proxy
from services.runtime.errors import leaves

TOKEN_ENV = "NETLAB_PROXY_TOKEN"


@dataclass(frozen=True)
class ProxySpec:
    """``NAME=LISTEN=UPSTREAM``, each address ``HOST:PORT`` (LISTEN's port may be 0)."""

    name: str
    listen: tuple[str, int]
    upstream: tuple[str, int]

    @classmethod
    def parse(cls, text: str) -> ProxySpec:
        name, sep, rest = text.partition("=")
        listen, sep2, upstream = rest.partition("=")
        if not (sep and sep2 and name):
            raise InvalidAddress(f"--proxy {text!r} is not NAME=LISTEN=UPSTREAM")
        return cls(name, parse_host_port(listen, "listen", allow_zero=True),
                   parse_host_port(upstream, "upstream"))


def _specs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[ProxySpec]:
    try:
        return [ProxySpec.parse(value) for value in values]
    except InvalidAddress as exc:
        raise click.BadParameter(str(exc)) from None


def _address(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, int]:
    try:
        return parse_host_port(value, "--control", allow_zero=True)
    except InvalidAddress as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("proxy")
@click.option("--proxy", "proxies", multiple=True, callback=_specs,
              metavar="NAME=LISTEN=UPSTREAM", help="A proxy to start (repeatable).")
@click.option("--control", default="127.0.0.1:8474", show_default=True, callback=_address,
              metavar="HOST:PORT", help="Where the control API listens.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the proxies' randomness (jitter, slicing, toxicity).")
def cli(proxies: list[ProxySpec], control: tuple[str, int], seed: int) -> None:
    """Run fault proxies and their control API (Ctrl-C or SIGTERM stops them)."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        click.echo(f"lab proxy: no {TOKEN_ENV}: the control API asks for no token", err=True)
    try:
        trio.run(partial(run, proxies=proxies, control=control, seed=seed, token=token))
    except BaseExceptionGroup as group:
        refused = [exc for exc in leaves(group) if isinstance(exc, OSError)]
        if not refused:
            raise
        raise click.ClickException(f"cannot listen: {refused[0].strerror or refused[0]}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc.strerror or exc}") from None


Started = tuple[int, ControlAPI]


async def run(*, proxies: list[ProxySpec], control: tuple[str, int], seed: int, token: str,
              task_status: trio.TaskStatus[Started] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``proxies`` and the API on ``control`` until SIGTERM/SIGINT; report the
    API's port and the API (its ``proxies`` hold the bound ports)."""
    api = ControlAPI(guard=Guard(token=token))
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(partial(api.run, control[1], control[0]))
            print(f"lab proxy: control API on {format_host_port(control[0], port)}", flush=True)
            for spec in proxies:
                proxy = await api.add_proxy(Proxy(spec.name, spec.upstream, spec.listen,
                                                  seed=seed))
                print(f"lab proxy: {spec.name} {format_host_port(spec.listen[0], proxy.port or 0)}"
                      f" -> {format_host_port(*spec.upstream)}", flush=True)
            task_status.started((port, api))
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
    sys.stdout.flush()
