"""Connecting to a server that may not be up yet: one backoff value, one retry loop.

Every client (chat, exec, upload) connects through :func:`connect_with_retry`;
what differs is only the :class:`Backoff` it passes and the error it turns
:class:`ConnectFailed` into.

Error handling: a refused, unreachable or timed-out attempt is retried after
the next delay of the backoff; when the attempts (or ``give_up_after``) run
out, :class:`ConnectFailed` carries the last reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import trio


class ConnectFailed(ConnectionError):
    """No connection could be opened within the attempts or time allowed."""


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Connection retries: ``attempts`` tries in all (None: no limit), delays growing by
    ``factor`` from ``initial`` up to ``max_delay``."""

    attempts: int | None = 6
    initial: float = 0.2
    factor: float = 2.0
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        bad_attempts = self.attempts is not None and self.attempts < 1
        if bad_attempts or self.initial < 0 or self.factor < 1 or self.max_delay < 0:
            raise ValueError("attempts >= 1, initial >= 0, factor >= 1, max_delay >= 0")

    def delays(self) -> Iterator[float]:
        """The pause before each retry (``attempts - 1`` of them)."""
        delay = self.initial
        retries = 0
        while self.attempts is None or retries < self.attempts - 1:
            yield min(delay, self.max_delay)
            delay = min(delay * self.factor, self.max_delay)
            retries += 1


NO_RETRY = Backoff(attempts=1)
# A server starting up: retry quickly, for as long as the caller's time allows.
UNTIL_UP = Backoff(attempts=None, initial=0.05, factor=2.0, max_delay=0.5)


async def connect_with_retry(
    host: str,
    port: int,
    backoff: Backoff = NO_RETRY,
    *,
    connect_timeout: float = 5.0,
    give_up_after: float = math.inf,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> trio.SocketStream:
    """Open a TCP connection, retrying failed attempts per ``backoff``.

    Each attempt may take ``connect_timeout`` seconds; all of them together
    ``give_up_after``. ``on_retry(error, delay)`` is called before each pause.
    """
    delays = backoff.delays()
    last: Exception | None = None
    with trio.move_on_after(give_up_after):
        while True:
            try:
                with trio.fail_after(connect_timeout):
                    return await trio.open_tcp_stream(host, port)
            except (OSError, trio.TooSlowError) as exc:
                last = exc
                delay = next(delays, None)
                if delay is None:
                    raise ConnectFailed(f"cannot connect to {host}:{port}: {exc}") from exc
                if on_retry is not None:
                    on_retry(exc, delay)
                await trio.sleep(delay)
    raise ConnectFailed(
        f"cannot connect to {host}:{port} within {give_up_after:g} s: {last or 'timed out'}"
    )
