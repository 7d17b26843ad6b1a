"""A small JSON-over-HTTP/1.1 server on h11 and Trio: one handler call per request.

Resource handling: each connection's stream belongs to ``trio.serve_tcp``;
requests on it are served one after the other (keep-alive) until the client
closes or a protocol error.
Error handling: a malformed request gets a 400 JSON error and the
connection is closed; the handler's :class:`lab.errors.ProxyError` become
JSON errors (400, 404, 409); a body that is not JSON is a 400.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import h11
import trio

from lab.errors import InvalidToxic, NameTaken, ProxyError, UnknownName

MAX_BODY = 1 << 20
Handler = Callable[[str, str, Any], Awaitable[tuple[int, Any]]]
"""``handler(method, path, body)`` returns ``(status, json_value)``."""

_STATUS = {InvalidToxic: 400, UnknownName: 404, NameTaken: 409}


async def _send(stream: trio.SocketStream, conn: h11.Connection, status: int, value: Any) -> None:
    body = json.dumps(value).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
    await stream.send_all(conn.send(h11.Data(data=body)) or b"")
    await stream.send_all(conn.send(h11.EndOfMessage()) or b"")


async def _next_event(stream: trio.SocketStream, conn: h11.Connection) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await stream.receive_some(65536))


async def serve_json(handler: Handler, stream: trio.SocketStream) -> None:
    """Serve ``handler`` on one connection."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
    try:
        while True:
            request = await _next_event(stream, conn)
            if not isinstance(request, h11.Request):
                return  # closed, or the client went away
            body = bytearray()
            while isinstance(event := await _next_event(stream, conn), h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise h11.RemoteProtocolError("body too large", 413)
            status, value = await _answer(handler, request, bytes(body))
            await _send(stream, conn, status, value)
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except h11.RemoteProtocolError as exc:
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            await _send(stream, conn, exc.error_status_hint, {"error": str(exc)})
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return


async def _answer(handler: Handler, request: h11.Request, body: bytes) -> tuple[int, Any]:
    try:
        value = json.loads(body) if body else None
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    try:
        return await handler(request.method.decode(), request.target.decode(), value)
    except ProxyError as exc:
        return _STATUS.get(type(exc), 400), {"error": str(exc)}
