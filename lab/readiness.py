"""Waiting for the lab: wait strategies are values sharing one poll loop.

A :class:`Wait` says how long to wait, how often to look and which errors
mean "not yet" (model: testcontainers' ``waiting_utils``). The helpers below
build on it: a TCP port that accepts, a container that is healthy.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from lab.errors import StackError

T = TypeVar("T")


@dataclass(frozen=True)
class Wait:
    """Poll until a check returns a truthy value, within ``timeout`` seconds."""

    timeout: float = 60.0
    interval: float = 0.2
    transient: tuple[type[BaseException], ...] = (OSError,)

    def until(self, check: Callable[[], T | None], what: str) -> T:
        """The first truthy result of ``check``; :class:`StackError` on timeout.

        Exceptions listed in ``transient`` count as "not yet"; the last one is
        reported if time runs out.
        """
        deadline = time.monotonic() + self.timeout
        last_error: BaseException | None = None
        while True:
            try:
                result = check()
            except self.transient as exc:
                last_error = exc
            else:
                if result:
                    return result
            if time.monotonic() >= deadline:
                detail = f" (last error: {last_error})" if last_error else ""
                raise StackError(f"timed out after {self.timeout:g} s waiting for {what}{detail}")
            time.sleep(self.interval)


def port_accepts(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when a TCP connection to ``host:port`` succeeds (it is closed at once)."""
    with socket.create_connection((host, port), timeout=timeout):
        return True


def wait_for_port(host: str, port: int, wait: Wait = Wait()) -> None:
    """Wait until ``host:port`` accepts connections."""
    wait.until(lambda: port_accepts(host, port), f"{host}:{port} to accept")
