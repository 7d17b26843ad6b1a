"""Backoff delays and connect_with_retry on loopback."""

from __future__ import annotations

import socket

import pytest
import trio

from services.runtime.retry import UNTIL_UP, Backoff, ConnectFailed, connect_with_retry
from tests.support.ports import free_port


def test_delays_grow_by_the_factor_up_to_the_cap() -> None:
    delays = Backoff(attempts=6, initial=0.5, factor=2, max_delay=3).delays()
    assert list(delays) == [0.5, 1.0, 2.0, 3, 3]


def test_one_attempt_has_no_delay() -> None:
    assert list(Backoff(attempts=1).delays()) == []


def test_no_attempt_limit_means_delays_go_on_at_the_cap() -> None:
    delays = UNTIL_UP.delays()
    first = [next(delays) for _ in range(50)]
    assert first[:3] == [0.05, 0.1, 0.2]
    assert first[-1] == UNTIL_UP.max_delay


@pytest.mark.parametrize(
    "fields",
    [{"attempts": 0}, {"initial": -1.0}, {"factor": 0.5}, {"max_delay": -1.0}],
)
def test_nonsense_backoffs_are_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**fields)  # type: ignore[arg-type]


async def test_a_refused_port_turns_into_a_connection_once_a_listener_appears() -> None:
    port = free_port()
    listener = socket.socket()
    retries: list[float] = []

    def listen_after_two_refusals(exc: Exception, delay: float) -> None:
        retries.append(delay)
        if len(retries) == 2:  # the server comes up during the second pause
            listener.bind(("127.0.0.1", port))
            listener.listen()

    backoff = Backoff(attempts=10, initial=0.01, factor=2, max_delay=0.05)
    with listener:
        stream = await connect_with_retry("127.0.0.1", port, backoff,
                                          on_retry=listen_after_two_refusals)
        await stream.aclose()
    assert retries == [0.01, 0.02]


async def test_running_out_of_attempts_raises_connect_failed() -> None:
    port = free_port()
    retries: list[float] = []
    with pytest.raises(ConnectFailed, match=f"127.0.0.1:{port}"):
        await connect_with_retry("127.0.0.1", port, Backoff(attempts=3, initial=0.001),
                                 on_retry=lambda exc, delay: retries.append(delay))
    assert len(retries) == 2


async def test_give_up_after_bounds_endless_retries(autojump_clock: trio.testing.MockClock) -> None:
    port = free_port()
    with pytest.raises(ConnectFailed, match="within 2 s"):
        await connect_with_retry("127.0.0.1", port, UNTIL_UP, give_up_after=2)
