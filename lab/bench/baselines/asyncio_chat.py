"""Baseline: a broadcast chat as asyncio's documentation suggests, on asyncio streams.

One coroutine per client (``asyncio.start_server``), ``StreamReader.readline``
to read, ``StreamWriter.write`` then ``await drain()`` to send. A client's
first line is its nickname; every later line goes to every other client that
has given one, as ``NICK: LINE``.

asyncio makes the listening socket itself (as in its documentation), so
every accepted socket gets ``TCP_NODELAY``, asyncio's default for TCP.

Run: ``python -m lab.bench.baselines.asyncio_chat --port 9000``; ``serve``
with port 0 tells the port it got to ``ready`` (tests).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from contextlib import suppress

from lab.bench.baselines.threaded_chat import BACKLOG


class AsyncioChat:
    """The clients that gave a nickname (their writers)."""

    def __init__(self) -> None:
        self.clients: dict[asyncio.StreamWriter, bytes] = {}

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            nick = (await reader.readline()).strip()
            if not nick:
                return
            prefix = nick + b": "
            self.clients[writer] = nick
            while line := await reader.readline():
                await self.broadcast(writer, prefix + line)
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.clients.pop(writer, None)
            writer.close()

    async def broadcast(self, sender: asyncio.StreamWriter, data: bytes) -> None:
        for other in list(self.clients):
            if other is sender:
                continue
            other.write(data)
            with suppress(ConnectionError):  # its own coroutine notices, and removes it
                await other.drain()


async def serve(host: str, port: int, ready: Callable[[int], object] | None = None) -> None:
    """Serve forever on ``host:port``; ``ready(port)`` once listening."""
    server = await asyncio.start_server(AsyncioChat().client, host, port, backlog=BACKLOG)
    if ready is not None:
        ready(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
