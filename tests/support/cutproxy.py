"""A TCP proxy that cuts its first connection after a byte budget (fault injection)."""

from __future__ import annotations

from contextlib import suppress

import trio


class CutProxy:
    """Forwards to ``port``; the first ``cuts`` connections are cut after ``budget`` bytes
    in the chosen direction (``upstream``: client→server, else server→client)."""

    def __init__(self, port: int, *, budget: int, cuts: int = 1, upstream: bool = True) -> None:
        self.target = port
        self.budget = budget
        self.cuts = cuts
        self.upstream = upstream
        self.connections = 0

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        task_status.started(listeners[0].socket.getsockname()[1])
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        cut = self.connections <= self.cuts
        async with client:
            server = await trio.open_tcp_stream("127.0.0.1", self.target)
            await self._relay(client, server, cut)

    async def _relay(self, client: trio.SocketStream, server: trio.SocketStream,
                     cut: bool) -> None:
        async with server, trio.open_nursery() as nursery:

            async def pump(source: trio.SocketStream, sink: trio.SocketStream,
                           limited: bool) -> None:
                left = self.budget
                with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    while data := await source.receive_some(65536):
                        if limited:
                            data = data[:left]
                            left -= len(data)
                        await sink.send_all(data)
                        if limited and left <= 0:
                            break
                    else:
                        await sink.send_eof()
                        return
                nursery.cancel_scope.cancel()  # the cut: both directions end

            nursery.start_soon(pump, client, server, cut and self.upstream)
            nursery.start_soon(pump, server, client, cut and not self.upstream)
