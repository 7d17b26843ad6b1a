"""Reading a server's memory: the probe run in its container, the readings, the waits."""

from __future__ import annotations

import subprocess
import sys
import uuid
from functools import partial
from typing import Any

import pytest
import trio

from lab.bench import memory
from lab.bench.memory import (
    PROBE,
    ProcessMemory,
    parse_probe,
    per_connection_kib,
    server_memory,
    wait_descriptors,
)
from lab.errors import BenchError


class LocalContainer:
    """``exec_run`` on this machine: the probe sees this machine's processes."""

    name = "local"

    def exec_run(self, argv: list[str]) -> tuple[int, bytes]:
        done = subprocess.run(argv if argv[0] != "python" else [sys.executable, *argv[1:]],
                              capture_output=True, check=False, timeout=30)
        return done.returncode, done.stdout + done.stderr


class Scripted:
    """``exec_run`` answering with one reading after another."""

    name = "scripted"

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds

    def exec_run(self, argv: list[str]) -> tuple[int, bytes]:
        fds = self.fds.pop(0) if len(self.fds) > 1 else self.fds[0]
        line = f'{{"pid": 7, "rss_kib": {100 + fds}, "fds": {fds}, "cmdline": "x chat serve"}}'
        return 0, line.encode()


async def test_the_probe_finds_the_process_by_its_command_line() -> None:
    marker = f"bench-marker-{uuid.uuid4().hex}"
    async with trio.open_nursery() as nursery:
        sleeper = await nursery.start(partial(
            trio.run_process, [sys.executable, "-c", "import time; time.sleep(60)", marker],
            check=False))
        reading = await server_memory(LocalContainer(), marker)
        sleeper.kill()
    assert reading.pid == sleeper.pid
    assert reading.rss_kib > 1000 and reading.fds >= 3 and marker in reading.cmdline


async def test_no_matching_process_is_an_error() -> None:
    with pytest.raises(BenchError, match="no process"):
        await server_memory(LocalContainer(), f"nothing-{uuid.uuid4().hex}")


def test_the_probe_is_plain_python() -> None:
    compile(PROBE, "probe", "exec")


def test_a_probe_line_parses() -> None:
    line = '{"pid": 9, "rss_kib": 2048, "fds": 12, "cmdline": "netlab chat serve"}\n'
    assert parse_probe(line, "chat") == ProcessMemory(9, 2048, 12, "netlab chat serve")
    with pytest.raises(BenchError):
        parse_probe("null\n", "chat")


# Real time, polled fast: the readings go through a worker thread, which a
# mock clock would race (it jumps while the thread runs).
async def test_waiting_for_descriptors_polls_until_they_are_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "POLL", 0.001)
    container: Any = Scripted([5, 500, 1004, 1010])
    reading = await wait_descriptors(container, "chat serve", 1000, timeout=30)
    assert reading.fds == 1004


async def test_waiting_for_descriptors_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "POLL", 0.001)
    with pytest.raises(BenchError, match="descriptors"):
        await wait_descriptors(Scripted([5]), "chat serve", 1000, timeout=0.05)


def test_memory_per_connection_is_the_growth_shared_out() -> None:
    before = ProcessMemory(1, 30_000, 10, "")
    after = ProcessMemory(1, 100_000, 10_010, "")
    assert per_connection_kib(before, after, 10_000) == 7.0
    with pytest.raises(ValueError):
        per_connection_kib(before, after, 0)
