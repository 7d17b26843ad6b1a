"""``netlab gateway``: forward learner ports to the lab's servers, through the fault proxy.

Example (what compose.yaml runs)::

    NETLAB_GATEWAY_CONTROL_TOKEN=secret netlab gateway \\
        --route 8000=chat:8000 --route 8001=exec:8000 --control-port 8474 \\
        --public 8000=127.0.0.1:8000 --public 8001=127.0.0.1:8001

Like the servers' ``serve`` commands, it only parses: one
:class:`GatewayConfig` goes to :func:`services.runtime.main.main`. Its
options are also read from ``NETLAB_GATEWAY_<OPTION>`` (the lab's servers
share the container environment's ``NETLAB_<OPTION>``). The control API's
token is read from ``NETLAB_GATEWAY_CONTROL_TOKEN`` only (an option would
show in ``ps``).
"""

from __future__ import annotations

import os
from typing import Any

import click

from lab.gateway.routes import PublicAddress, Route, RouteError
from lab.gateway.server import ENV_PREFIX, Gateway, GatewayConfig
from services.runtime.main import SERVER_EXIT_STATUSES, main
from services.runtime.options import build_config, config_options, exit_statuses

TOKEN_ENV = f"{ENV_PREFIX}CONTROL_TOKEN"


def _parse(kind: type[Route] | type[PublicAddress], values: tuple[str, ...]) -> tuple[Any, ...]:
    try:
        return tuple(kind.parse(value) for value in values)
    except RouteError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(epilog=exit_statuses(SERVER_EXIT_STATUSES))
@click.option("--route", "routes", multiple=True, required=True, metavar="[NAME@]PORT=HOST:PORT",
              help="Listen on PORT and forward to HOST:PORT through the fault proxy NAME "
                   "(default: HOST) (repeatable).")
@click.option("--public", "public", multiple=True, metavar="PORT=HOST:PORT",
              help="Where the host reaches listen PORT (for the banner; repeatable).")
@config_options(GatewayConfig, env_prefix=ENV_PREFIX)
def cli(routes: tuple[str, ...], public: tuple[str, ...], **options: Any) -> None:
    """Forward learner ports to the lab's servers (the lab's front door), through the fault
    proxy; with --control-port, serve its control API (token: $NETLAB_GATEWAY_CONTROL_TOKEN)."""
    token = os.environ.pop(TOKEN_ENV, "").strip()
    config = build_config(
        GatewayConfig, options, routes=_parse(Route, routes), public=_parse(PublicAddress, public),
        control_token=token,
    )
    main(config, Gateway)
