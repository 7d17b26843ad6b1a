"""The control API of the fault proxies: HTTP + JSON, modelled on Toxiproxy's.

==========================================  =====================================================
``GET /proxies``                            every proxy (in the gateway: one per route)
``POST /proxies``                           a new proxy: ``{"name", "upstream": "HOST:PORT",
                                            "listen": "HOST:PORT", "seed"}`` (port 0 picks one)
``POST /reset``                             every proxy's toxics removed; ``{"seed": N}`` also
                                            reseeds each proxy's randomness
``GET /proxies/{name}``                     one proxy
``GET /proxies/{name}/connections``         its open connections; ``?peer=HOST:PORT`` keeps the
                                            one whose client is there
``GET|POST /proxies/{name}/toxics``         its toxics; a new one's ``connection`` is an id, a
                                            client's ``"HOST:PORT"``, or null (all)
``GET|DELETE /proxies/{name}/toxics/{t}``   one toxic
==========================================  =====================================================

Errors: ``{"error": MESSAGE}`` with 400, 401, 403, 404, 405 or 409; who may
ask at all is :mod:`lab.proxy.guard`'s business (401/403).

Resource handling: :meth:`ControlAPI.run` owns the control listener and a
nursery in which every proxy created through the API runs; cancelling it
stops them all. Proxies handed in at construction (the gateway's routes)
are run by their owner.
Error handling: see :mod:`lab.proxy.http`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import trio

from lab.errors import InvalidToxic, NameTaken, UnknownName
from lab.proxy.address import format_host_port, parse_host_port
from lab.proxy.codec import toxic_from_json, toxic_to_json
from lab.proxy.guard import Guard
from lab.proxy.http import Answer, Request, serve_json
from lab.proxy.proxy import Proxy


def describe(proxy: Proxy) -> dict[str, Any]:
    host, port = proxy.listen
    return {"name": proxy.name, "listen": format_host_port(host, proxy.port or port),
            "upstream": format_host_port(*proxy.upstream), "seed": proxy.seed,
            "connections": len(proxy.connections),
            "toxics": [toxic_to_json(t) for t in proxy.toxics.values()]}


class ControlAPI:
    """The proxies and the HTTP API over them, behind ``guard``."""

    def __init__(self, proxies: dict[str, Proxy] | None = None, guard: Guard | None = None) -> None:
        self.proxies: dict[str, Proxy] = {} if proxies is None else proxies
        self.guard = guard or Guard()
        self._nursery: trio.Nursery | None = None

    async def run(self, port: int = 0, host: str = "127.0.0.1", *,
                  task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the API on ``port`` until cancelled; report the bound port."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await nursery.start(
                partial(trio.serve_tcp, partial(serve_json, self.handle), port, host=host))
            task_status.started(listeners[0].socket.getsockname()[1])

    async def add_proxy(self, proxy: Proxy) -> Proxy:
        """Run ``proxy`` on its own listener, in the API's nursery."""
        if proxy.name in self.proxies:
            raise NameTaken(f"proxy {proxy.name!r} exists")
        assert self._nursery is not None, "the API is not running"
        self.proxies[proxy.name] = proxy
        await self._nursery.start(proxy.run)
        return proxy

    def _proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise UnknownName(f"no proxy {name!r}") from None

    async def handle(self, request: Request) -> Answer:
        """Check the request against the guard, then route it."""
        refused = self.guard.refusal(request)
        if refused is not None:
            return refused
        status, value = await self._route(request.method, request.path, request)
        return Answer(status, value)

    async def _route(self, method: str, path: str, request: Request) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["reset"]:
            if method == "POST":
                self._reset(request.json())
                return 200, [describe(p) for p in self.proxies.values()]
        elif parts[:1] != ["proxies"] or len(parts) > 4:
            raise UnknownName(f"no resource {path}")
        elif len(parts) == 1:
            if method == "GET":
                return 200, [describe(p) for p in self.proxies.values()]
            if method == "POST":
                return 201, describe(await self.add_proxy(self._new_proxy(request.json())))
        else:
            return self._proxy_resource(method, path, self._proxy(parts[1]), parts[2:], request)
        return 405, {"error": f"{method} not allowed on {path}"}

    def _proxy_resource(self, method: str, path: str, proxy: Proxy, below: list[str],
                        request: Request) -> tuple[int, Any]:
        if not below and method == "GET":
            return 200, describe(proxy)
        if below == ["connections"] and method == "GET":
            peer = request.query.get("peer")
            conns = [proxy.find(peer)] if peer else list(proxy.connections.values())
            return 200, [c.describe() for c in conns]
        if below == ["toxics"] and method == "GET":
            return 200, [toxic_to_json(t) for t in proxy.toxics.values()]
        if below == ["toxics"] and method == "POST":
            toxic = toxic_from_json(_by_id(proxy, request.json()))
            proxy.add_toxic(toxic)
            return 201, toxic_to_json(toxic)
        if len(below) == 2 and below[0] == "toxics":
            if method == "GET":
                if below[1] not in proxy.toxics:
                    raise UnknownName(f"no toxic {below[1]!r} on proxy {proxy.name!r}")
                return 200, toxic_to_json(proxy.toxics[below[1]])
            if method == "DELETE":
                return 200, toxic_to_json(proxy.remove_toxic(below[1]))
        if below and below[0] not in ("toxics", "connections"):
            raise UnknownName(f"no resource {path}")
        return 405, {"error": f"{method} not allowed on {path}"}

    def _reset(self, body: Any) -> None:
        body = {} if body is None else body
        if not isinstance(body, dict) or set(body) - {"seed"}:
            raise InvalidToxic('a reset is {} or {"seed": INTEGER}')
        seed = body.get("seed")
        if seed is not None and not _is_int(seed):
            raise InvalidToxic("seed must be an integer")
        for proxy in self.proxies.values():
            proxy.reset(seed)

    def _new_proxy(self, body: Any) -> Proxy:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise InvalidToxic("a proxy is {name, upstream, listen?, seed?}")
        seed = body.get("seed", 0)
        if not _is_int(seed):
            raise InvalidToxic("seed must be an integer")
        return Proxy(body["name"], parse_host_port(body.get("upstream"), "upstream"),
                     listen=parse_host_port(body.get("listen", "127.0.0.1:0"), "listen",
                                            allow_zero=True), seed=seed)


def _by_id(proxy: Proxy, body: Any) -> Any:
    """A toxic's JSON whose ``connection`` names a client's ``HOST:PORT``, with its id instead."""
    if isinstance(body, dict) and isinstance(body.get("connection"), str):
        return {**body, "connection": proxy.find(body["connection"]).id}
    return body


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
