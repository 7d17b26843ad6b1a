"""The control API of the fault proxies: HTTP + JSON, modelled on Toxiproxy's.

``GET /proxies``, ``POST /proxies`` (``{"name", "upstream": "HOST:PORT",
"listen": "HOST:PORT", "seed"}``; port 0 picks one, the answer says which),
``GET /proxies/{name}``, ``GET/POST /proxies/{name}/toxics``,
``GET/DELETE /proxies/{name}/toxics/{toxic}``, ``GET /proxies/{name}/connections``.
Errors: ``{"error": MESSAGE}`` with 400, 404, 405 or 409.

Resource handling: :meth:`ControlAPI.run` owns the control listener and a
nursery in which every proxy created through the API runs; cancelling it
stops them all.
Error handling: see :mod:`lab.proxy.http`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import trio

from lab.errors import InvalidToxic, NameTaken, UnknownName
from lab.proxy.codec import toxic_from_json, toxic_to_json
from lab.proxy.http import serve_json
from lab.proxy.proxy import Proxy


def _address(text: object, what: str) -> tuple[str, int]:
    if not isinstance(text, str):
        raise InvalidToxic(f"{what} must be HOST:PORT")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise InvalidToxic(f"{what} {text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def describe(proxy: Proxy) -> dict[str, Any]:
    host, port = proxy.listen
    return {"name": proxy.name, "listen": f"{host}:{proxy.port or port}",
            "upstream": "{}:{}".format(*proxy.upstream), "seed": proxy.seed,
            "toxics": [toxic_to_json(t) for t in proxy.toxics.values()]}


class ControlAPI:
    """The proxies and the HTTP API over them."""

    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}
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

    async def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Route one request: ``(status, json_value)``."""
        parts = [p for p in path.split("?")[0].split("/") if p]
        if parts[:1] != ["proxies"] or len(parts) > 4:
            raise UnknownName(f"no resource {path}")
        if len(parts) == 1:
            if method == "GET":
                return 200, [describe(p) for p in self.proxies.values()]
            if method == "POST":
                return 201, describe(await self.add_proxy(self._new_proxy(body)))
        else:
            proxy = self._proxy(parts[1])
            below = parts[2:]
            if not below and method == "GET":
                return 200, describe(proxy)
            if below == ["connections"] and method == "GET":
                return 200, [c.describe() for c in proxy.connections.values()]
            if below == ["toxics"] and method == "GET":
                return 200, [toxic_to_json(t) for t in proxy.toxics.values()]
            if below == ["toxics"] and method == "POST":
                toxic = toxic_from_json(body)
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

    def _new_proxy(self, body: Any) -> Proxy:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise InvalidToxic("a proxy is {name, upstream, listen?, seed?}")
        seed = body.get("seed", 0)
        if not isinstance(seed, int):
            raise InvalidToxic("seed must be an integer")
        return Proxy(body["name"], _address(body.get("upstream"), "upstream"),
                     listen=_address(body.get("listen", "127.0.0.1:0"), "listen"), seed=seed)


