"""lab.containers without Docker: a program's attach stream turned into lines and a stderr tail."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

import pytest
import trio

from lab import containers
from lab.containers import Program, fleet_launch


@dataclass
class FakeContainer:
    name: str = "netlab-test-program"


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed attach stream (1 stdout, 2 stderr)."""
    return struct.pack(">BxxxL", stream, len(data)) + data


async def pumped(payload: bytes, *, buffer: int = 100,
                 read: bool = True) -> tuple[list[str], Program]:
    """Feed ``payload`` through a socket pair into a Program's pump; the lines it handed over."""
    ours, theirs = socket.socketpair()
    send, receive = trio.open_memory_channel[str](buffer)
    program = Program(None, FakeContainer(), ours, receive)
    lines: list[str] = []
    with theirs, trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(program._pump, send)
            await trio.to_thread.run_sync(theirs.sendall, payload)
            theirs.shutdown(socket.SHUT_WR)
            if read:
                async for line in receive:
                    lines.append(line)
            else:
                receive.close()
    assert ours.fileno() == -1, "the pump closes the socket once it is done"
    return lines, program


async def test_stdout_frames_become_lines_whatever_their_cuts() -> None:
    payload = (frame(1, b'{"a": 1}\n{"b"') + frame(1, b': 2}\n') + frame(1, b"x\ny\n")
               + frame(1, b"no newline at the end"))
    lines, _ = await pumped(payload)
    assert lines == ['{"a": 1}', '{"b": 2}', "x", "y", "no newline at the end"]


async def test_stderr_is_kept_apart_and_only_its_end() -> None:
    big = b"e" * (containers.STDERR_KEEP + 10) + b"END"
    lines, program = await pumped(frame(2, b"first\n") + frame(1, b"out\n") + frame(2, big))
    assert lines == ["out"]
    assert program._stderr.endswith(b"END") and len(program._stderr) == containers.STDERR_KEEP


async def test_a_line_longer_than_the_limit_comes_in_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(containers, "LINE_LIMIT", 4)
    lines, _ = await pumped(frame(1, b"abcdefghij\nk\n"))
    assert lines == ["abcd", "efgh", "ij", "k"]


async def test_output_nobody_reads_is_drained_not_blocking() -> None:
    payload = b"".join(frame(1, b"line %d\n" % i) for i in range(500))
    lines, program = await pumped(payload, buffer=1, read=False)
    assert lines == [] and program._pumped.is_set()


def test_a_fleet_runs_in_role_fleet_with_its_name_as_a_label() -> None:
    launch = fleet_launch("observers")
    assert launch.role == "fleet" and dict(launch.labels) == {"fleet": "observers"}
    assert launch.user is None and launch.cap_add == () and launch.network_mode is None
