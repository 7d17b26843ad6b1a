"""The tutorial's exec client without the 40 ms stall on commands with empty output.

The client sends ``ok`` and, when the result is empty, its next command at
once. With Nagle on (the tutorial never turns it off) that command waits until
``ok`` is acknowledged; a delayed ACK made that about 40 ms. The server
acknowledges at once after each receive (``services.runtime.acks``), so
``true`` costs about what ``echo x`` does. The bound is generous: a stall
shows as 40 ms, a shell start as a few (a few more in the sandbox, run as root:
a fork instead of a vfork, a home directory to make and remove).
"""

from __future__ import annotations

import socket
import statistics
import time
from functools import partial

import trio

from tests.support.servers import StartExec

ROUNDS = 20
BOUND = 0.025  # seconds; median of ROUNDS round trips


def tutorial_round_trips(port: int, command: bytes, rounds: int) -> list[float]:
    """Seconds per round (command, length, ``ok``, result), as the tutorial's client does it."""
    times = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(rounds + 1):  # the first round starts the server's side: not timed
            start = time.perf_counter()
            sock.send(command)
            size = int(sock.recv(1024).decode())
            sock.send(b"ok")
            data = b""
            while len(data) < size:
                data += sock.recv(1024)
            times.append(time.perf_counter() - start)
    return times[1:]


async def median_round_trip(port: int, command: bytes) -> float:
    times = await trio.to_thread.run_sync(partial(tutorial_round_trips, port, command, ROUNDS))
    return statistics.median(times)


async def test_empty_output_round_trip_has_no_delayed_ack_stall(start_server: StartExec) -> None:
    server = await start_server()
    median = await median_round_trip(server.port, b"true")
    assert median < BOUND, f"true: median {median * 1000:.1f} ms"


async def test_round_trip_with_output_for_comparison(start_server: StartExec) -> None:
    server = await start_server()
    median = await median_round_trip(server.port, b"echo x")
    assert median < BOUND, f"echo x: median {median * 1000:.1f} ms"
