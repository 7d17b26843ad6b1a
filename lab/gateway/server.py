"""The gateway server: one listener per route, each connection relayed upstream
through the route's fault proxy.

Built on netlab's runtime (``services.runtime.serve``, run as a process by
``services.runtime.main.main``): the same limits, counters, logs and graceful
shutdown as the lab's servers. The upstream is resolved at each connection
(Docker's DNS), so a restarted server is found again; an unreachable upstream
closes the client's connection after a log line. Both ends of a relay get
the runtime's keepalive (``--keepalive``): the client's socket from
``serve``, the upstream's here, so a vanished peer on either side ends the
relay as a reset. The bytes go through
:meth:`lab.proxy.proxy.Proxy.relay` of the route's proxy (named after the
route), so toxics added at runtime act on every route's connections, the
learners' and the lab's fleets' alike. With ``control_port``, the proxies'
control API (:mod:`lab.proxy.api`) is served there, behind
:class:`lab.proxy.guard.Guard` with ``control_token``.

Resource handling: each connection's upstream stream is opened and closed in
:meth:`Gateway.handle`; the client's stream belongs to ``serve``. The control
API's listener lives in :meth:`Gateway.run` and closes once every route has
drained.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import click
import trio

from lab.gateway.banner import banner
from lab.gateway.routes import PublicAddress, Route, check_routes
from lab.gateway.stats import GatewayCounters
from lab.proxy.api import ControlAPI
from lab.proxy.guard import Guard
from lab.proxy.proxy import Proxy
from services.runtime.config import ServerConfig
from services.runtime.connection import PeerConnection
from services.runtime.counters import Counters
from services.runtime.keepalive import set_keepalive
from services.runtime.lifecycle import Lifecycle
from services.runtime.logs import get_logger, log_event
from services.runtime.options import DURATION, setting
from services.runtime.serve import serve

ENV_PREFIX = "NETLAB_GATEWAY_"


@dataclass(frozen=True, kw_only=True)
class GatewayConfig(ServerConfig):
    """Gateway settings; ``port`` is unused, so not an option (each route has its own)."""

    host: str = setting(
        "127.0.0.1", help="Address the routes listen on (0.0.0.0 in containers)."
    )
    port: int = 0
    handshake_timeout: float = 10.0  # the gateway reads no first message: not an option
    max_clients: int = setting(
        10_000, type=click.IntRange(min=1), help="Connections relayed at once on each route."
    )
    idle_timeout: float = setting(
        900.0, type=DURATION, help="Seconds without a byte either way before a relay is closed."
    )
    grace_period: float = setting(
        1.0, type=DURATION, help="Seconds open relays may continue after SIGTERM."
    )
    stats_port: int | None = setting(
        None, type=click.IntRange(0, 65535),
        help="Serve a JSON line of the gateway's counters on this port.",
    )
    log_level: str = setting(
        "info", type=click.Choice(["debug", "info", "warning", "error"]), help="Log verbosity."
    )
    routes: tuple[Route, ...] = ()
    public: tuple[PublicAddress, ...] = ()
    connect_timeout: float = setting(
        5.0, type=DURATION, help="Seconds to reach an upstream."
    )
    banner: bool = setting(True, help="Print how to connect at start.")
    control_port: int | None = setting(
        None, type=click.IntRange(0, 65535),
        help="Serve the fault proxies' control API (HTTP + JSON) on this port.",
    )
    # A secret: from NETLAB_GATEWAY_CONTROL_TOKEN only, never an option (ps shows those).
    control_token: str = field(default="", repr=False)
    seed: int = setting(0, help="Seed of the route proxies' randomness (toxicity, jitter).")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_routes(list(self.routes), list(self.public))
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")


@dataclass
class Gateway:
    """Relays every route of ``config`` through its proxy; ``counters`` cover all routes.

    Limits are per route: ``max_clients`` connections on each. ``proxies``
    holds one :class:`Proxy` per route, by route name; ``control`` is the API
    over them, listening on ``control_port`` once :meth:`run` has started.
    """

    config: GatewayConfig
    counters: Counters = field(init=False)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    logger: logging.Logger = field(default_factory=lambda: get_logger("gateway"))
    proxies: dict[str, Proxy] = field(init=False)
    open_by_route: Counter[str] = field(init=False, default_factory=Counter)
    control: ControlAPI = field(init=False)
    control_port: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        config = self.config
        self.proxies = {
            route.name: Proxy(route.name, (route.upstream_host, route.upstream_port),
                              listen=(config.host, route.listen_port), seed=config.seed,
                              idle_timeout=config.idle_timeout)
            for route in config.routes
        }
        self.counters = GatewayCounters(route_figures=self.route_figures)
        self.control = ControlAPI(self.proxies, Guard(config.control_token))

    def route_figures(self) -> dict[str, dict[str, int]]:
        """Per route: client connections open, relayed through the proxy now, active toxics."""
        return {name: {"open": self.open_by_route[name], "relayed": len(proxy.connections),
                       "toxics": len(proxy.toxics)}
                for name, proxy in self.proxies.items()}

    async def handle(self, route: Route, conn: PeerConnection) -> None:
        """Relay one accepted connection to ``route``'s upstream, through its proxy."""
        self.open_by_route[route.name] += 1
        try:
            await self._relay(route, conn)
        finally:
            self.open_by_route[route.name] -= 1

    async def _relay(self, route: Route, conn: PeerConnection) -> None:
        target = f"{route.upstream_host}:{route.upstream_port}"
        try:
            with trio.fail_after(self.config.connect_timeout):
                upstream = await trio.open_tcp_stream(route.upstream_host, route.upstream_port)
            set_keepalive(upstream.socket, self.config.keepalive)
        except (OSError, trio.TooSlowError) as exc:
            self.counters.error("upstream-unreachable")
            self.counters.extra[f"{route.name}.unreachable"] += 1
            log_event(self.logger, "upstream-unreachable", level=logging.WARNING, peer=conn.peer,
                      route=route.name, upstream=target, error=str(exc) or type(exc).__name__)
            return
        self.counters.extra[f"{route.name}.connections"] += 1
        log_event(self.logger, "relay-open", peer=conn.peer, route=route.name, upstream=target)
        started = trio.current_time()
        async with upstream:
            result = await self.proxies[route.name].relay(
                conn.stream, upstream, peer=conn.peer, idle_timeout=self.config.idle_timeout,
                send_timeout=self.config.send_timeout)
        self.counters.bytes_in += result.bytes_up
        self.counters.bytes_out += result.bytes_down
        if result.reason.startswith("toxic-"):
            self.counters.extra[f"{route.name}.ended-by-toxic"] += 1
        elif result.reason.endswith(("reset", "send-timeout")):
            self.counters.error(result.reason)
        log_event(self.logger, "relay-close", peer=conn.peer, route=route.name,
                  bytes_up=result.bytes_up, bytes_down=result.bytes_down,
                  seconds=f"{trio.current_time() - started:.3f}", reason=result.reason)

    async def run(
        self, *, task_status: trio.TaskStatus[list[int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve every route (and the control API) until the lifecycle drains; print the
        banner, report the routes' ports.

        Returns once every route has drained: ``lifecycle.stopped`` is set as
        soon as the first route's ``serve`` returns, so it cannot say that.
        """
        async with trio.open_nursery() as control:
            if self.config.control_port is not None:
                self.control_port = await control.start(
                    self.control.run, self.config.control_port, self.config.host)
                log_event(self.logger, "control-listening", host=self.config.host,
                          port=self.control_port, token=bool(self.config.control_token))
                if not self.config.control_token:
                    log_event(self.logger, "control-without-token", level=logging.WARNING,
                              note="any local program can add toxics; set "
                                   f"{ENV_PREFIX}CONTROL_TOKEN")
            async with trio.open_nursery() as routes:
                ports = [await routes.start(partial(self._serve_route, route))
                         for route in self.config.routes]
                for port, route in zip(ports, self.config.routes, strict=True):
                    self.proxies[route.name].port = port
                log_event(self.logger, "gateway-ready",
                          routes=",".join(f"{p}={r.upstream_host}:{r.upstream_port}"
                                          for p, r in zip(ports, self.config.routes, strict=True)))
                if self.config.banner:
                    print(banner(self.config.routes, self.config.public), flush=True)
                task_status.started(ports)
            control.cancel_scope.cancel()

    async def _refuse(self, route: Route, conn: PeerConnection) -> None:
        """Past ``max_clients`` on this route: counted per route, then closed."""
        self.counters.extra[f"{route.name}.refused"] += 1

    async def _serve_route(self, route: Route, *, task_status: trio.TaskStatus[int]) -> None:
        config = ServerConfig(
            host=self.config.host, port=route.listen_port,
            max_clients=self.config.max_clients, idle_timeout=self.config.idle_timeout,
            send_timeout=self.config.send_timeout, grace_period=self.config.grace_period,
            keepalive=self.config.keepalive,
        )
        # One serve per route: each route has its own max_clients slots.
        await serve(partial(self.handle, route), config, counters=self.counters,
                    lifecycle=self.lifecycle, logger=self.logger,
                    refuse=partial(self._refuse, route), task_status=task_status)
