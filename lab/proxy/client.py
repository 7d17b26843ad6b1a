"""An async Python client for the fault proxy's control API (:mod:`lab.proxy.api`).

Resource handling: each request opens its own connection and closes it.
Error handling: an error answer raises :class:`ControlError` with its status
and the server's message; transport errors (``OSError``) pass through.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import h11
import trio

from lab.errors import ProxyError
from lab.proxy.address import format_host_port


class ControlError(ProxyError):
    """The control API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ProxyClient:
    """Talks to one control API at ``host:port``, with its ``token`` if it asks for one.

    ``host`` should be an IP address, ``localhost`` or ``gateway``: the API
    refuses other ``Host`` names (see :mod:`lab.proxy.guard`).
    """

    def __init__(self, host: str, port: int, *, token: str = "", timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._token = token

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """One request; the decoded JSON answer, or :class:`ControlError`."""
        data = b"" if body is None else json.dumps(body).encode()
        conn = h11.Connection(h11.CLIENT)
        headers = [("Host", format_host_port(self.host, self.port)), ("Connection", "close"),
                   ("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if self._token:
            headers.append(("Authorization", f"Bearer {self._token}"))
        with trio.fail_after(self.timeout):
            async with await trio.open_tcp_stream(self.host, self.port) as stream:
                out = conn.send(h11.Request(method=method, target=path, headers=headers)) or b""
                out += (conn.send(h11.Data(data=data)) or b"") if data else b""
                await stream.send_all(out + (conn.send(h11.EndOfMessage()) or b""))
                status, answer = 0, bytearray()
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await stream.receive_some(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, h11.Data):
                        answer += event.data
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
        value = json.loads(answer) if answer else None
        if status >= 400:
            message = value.get("error", "") if isinstance(value, dict) else str(value)
            raise ControlError(status, message)
        return value

    async def proxies(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/proxies"))

    async def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0",
                           seed: int = 0) -> dict[str, Any]:
        return dict(await self.request("POST", "/proxies", {
            "name": name, "upstream": upstream, "listen": listen, "seed": seed}))

    async def proxy(self, name: str) -> dict[str, Any]:
        return dict(await self.request("GET", f"/proxies/{name}"))

    async def toxics(self, proxy: str) -> list[dict[str, Any]]:
        return list(await self.request("GET", f"/proxies/{proxy}/toxics"))

    async def add_toxic(self, proxy: str, type: str, *, name: str | None = None,
                        stream: str = "downstream", toxicity: float = 1.0,
                        connection: int | str | None = None,
                        **attributes: float) -> dict[str, Any]:
        """Add a toxic; ``connection``: an id, a client's ``"HOST:PORT"``, or all (``None``)."""
        body = {"type": type, "stream": stream, "toxicity": toxicity,
                "connection": connection, "attributes": attributes}
        if name is not None:
            body["name"] = name
        return dict(await self.request("POST", f"/proxies/{proxy}/toxics", body))

    async def remove_toxic(self, proxy: str, name: str) -> dict[str, Any]:
        return dict(await self.request("DELETE", f"/proxies/{proxy}/toxics/{name}"))

    async def connections(self, proxy: str, peer: str | None = None) -> list[dict[str, Any]]:
        """Open connections; with ``peer``, the one from that ``HOST:PORT`` (404 if none)."""
        query = f"?peer={quote(peer)}" if peer else ""
        return list(await self.request("GET", f"/proxies/{proxy}/connections{query}"))

    async def reset(self, seed: int | None = None) -> list[dict[str, Any]]:
        """Remove every proxy's toxics; with ``seed``, reseed every proxy's randomness."""
        return list(await self.request("POST", "/reset", None if seed is None else {"seed": seed}))
