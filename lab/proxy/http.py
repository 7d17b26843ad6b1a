"""A small JSON-over-HTTP/1.1 server on h11 and Trio: one handler call per request.

The handler gets a :class:`Request` (method, path, query, headers, body
bytes) and returns an :class:`Answer` (status, JSON value, extra headers).

Resource handling: each connection's stream belongs to ``trio.serve_tcp``;
requests on it are served one after the other (keep-alive) until the client
closes or a protocol error.
Error handling: a malformed request gets a 400 JSON error and the
connection is closed; the handler's :class:`lab.errors.ProxyError` become
JSON errors (400, 404, 409), any other exception a 500 (logged); a body
that is not JSON (``Request.json``) is a 400. A request that takes over
:data:`REQUEST_TIMEOUT` to arrive closes its connection.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11
import trio

from lab.errors import InvalidToxic, NameTaken, ProxyError, UnknownName

MAX_BODY = 1 << 20
REQUEST_TIMEOUT = 30.0  # seconds for a whole request to arrive
logger = logging.getLogger("netlab.proxy.api")
_STATUS = {InvalidToxic: 400, UnknownName: 404, NameTaken: 409}


@dataclass(frozen=True)
class Request:
    """One request: ``headers`` by lower-case name, ``query`` by name (the last value)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON (``None`` when empty); :class:`InvalidToxic` (400) if it is not."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            raise InvalidToxic("the body is not JSON") from None


@dataclass(frozen=True)
class Answer:
    """What the handler answers: a status, a JSON value and any extra headers."""

    status: int
    value: Any
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Awaitable[Answer]]


def _request(event: h11.Request, body: bytes) -> Request:
    target = urlsplit(event.target.decode("latin-1"))
    query = {key: values[-1] for key, values in parse_qs(target.query).items()}
    headers = {name.decode("latin-1").lower(): value.decode("latin-1")
               for name, value in event.headers}
    return Request(event.method.decode("latin-1"), target.path, query, headers, body)


async def _send(stream: trio.SocketStream, conn: h11.Connection, status: int, value: Any,
                extra: tuple[tuple[str, str], ...] = ()) -> None:
    body = json.dumps(value).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               *extra]
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
            with trio.fail_after(REQUEST_TIMEOUT):  # an idle or slow client is let go
                request = await _next_event(stream, conn)
                if not isinstance(request, h11.Request):
                    return  # closed, or the client went away
                body = bytearray()
                while isinstance(event := await _next_event(stream, conn), h11.Data):
                    body += event.data
                    if len(body) > MAX_BODY:
                        raise h11.RemoteProtocolError("body too large", 413)
            answer = await _answer(handler, request, bytes(body))
            await _send(stream, conn, answer.status, answer.value, answer.headers)
            if conn.our_state is h11.MUST_CLOSE:
                return
            conn.start_next_cycle()
    except h11.RemoteProtocolError as exc:
        if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await _send(stream, conn, exc.error_status_hint, {"error": str(exc)})
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
        return


async def _answer(handler: Handler, request: h11.Request, body: bytes) -> Answer:
    try:
        return await handler(_request(request, body))
    except ProxyError as exc:
        return Answer(_STATUS.get(type(exc), 400), {"error": str(exc)})
    except Exception as exc:  # a bug answers 500; the API and the proxies go on
        logger.exception("event=control-api-crash error=%r", exc)
        return Answer(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
