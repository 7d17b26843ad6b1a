"""lab capture on the session's lab: chat traffic through the gateway, captured in chat's
network namespace and summarised; the sidecar is always removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest
import trio

from lab.capture.pcap import read_segments
from lab.capture.sidecar import CaptureSpec, capturing
from lab.capture.summary import Connection, summarize
from lab.containers import find_labelled
from lab.errors import CaptureError
from lab.faults.context import LabContext
from lab.labels import LABEL_PREFIX, SESSION_ID
from lab.stack import Stack
from tests.support.stacks import host_port

LAB = Path(sys.executable).parent / "lab"
ROOT = Path(__file__).resolve().parents[2]
LINES = b"/nick capture\nhello from lab capture\n/quit\n"


@pytest.fixture
def lab(stack: Stack) -> LabContext:
    return LabContext(stack)


async def talk(stack: Stack) -> bytes:
    """Send LINES to chat through the gateway; everything chat answers until it closes."""
    received = b""
    with trio.fail_after(20):
        async with await trio.open_tcp_stream("127.0.0.1", host_port(stack, "chat")) as stream:
            await stream.send_all(LINES)
            while chunk := await stream.receive_some():
                received += chunk
    return received


def capture_sidecars(lab: LabContext) -> list[str]:
    return [c.name for c in find_labelled(lab.docker, {f"{LABEL_PREFIX}.role": "capture"})]


async def test_a_capture_of_chat_counts_what_the_client_and_the_server_sent(
        lab: LabContext, stack: Stack, tmp_path: Path) -> None:
    chat = await trio.to_thread.run_sync(lab.container, "chat")
    output = tmp_path / "chat.pcap"
    async with capturing(lab, chat, CaptureSpec(seconds=60), output) as capture:
        received = await talk(stack)
        await trio.sleep(1)  # the gateway's side of the close reaches chat
        await capture.stop()
    assert capture.result is not None and capture.result.output == output
    assert output.stat().st_uid == os.getuid()
    summary = summarize(read_segments(output).segments, server_port=8000)
    ours: list[Connection] = [c for c in summary.connections
                              if c.by_client.payload == len(LINES)]
    assert len(ours) == 1, summary
    (connection,) = ours
    assert connection.server.port == 8000
    assert connection.handshake.complete, connection
    assert connection.by_server.payload == len(received) > 0
    assert b"= bye" in received
    assert (connection.by_client.fin, connection.by_server.fin) == (1, 1), connection
    assert (connection.by_client.rst, connection.by_server.rst) == (0, 0), connection
    assert connection.closes[0] == ("server", "FIN"), connection  # /quit: chat closes first
    assert capture.result.captured is not None
    assert capture.result.captured >= connection.by_client.segments + connection.by_server.segments
    assert capture_sidecars(lab) == []


async def test_a_capture_stops_by_itself_at_its_packet_count(
        lab: LabContext, stack: Stack, tmp_path: Path) -> None:
    chat = await trio.to_thread.run_sync(lab.container, "chat")
    output = tmp_path / "three.pcap"
    with trio.fail_after(60):
        async with capturing(lab, chat, CaptureSpec(seconds=50, packets=3), output) as capture:
            await talk(stack)
    assert capture.result is not None and capture.result.captured == 3
    assert len(read_segments(output).segments) == 3
    assert capture_sidecars(lab) == []


async def test_a_tcpdump_that_fails_is_an_error_and_leaves_no_sidecar(
        lab: LabContext, tmp_path: Path) -> None:
    chat = await trio.to_thread.run_sync(lab.container, "chat")
    with pytest.raises(CaptureError, match=r"syntax error|did not start"):
        async with capturing(lab, chat, CaptureSpec(seconds=5, filter="tcp port nonsense ((("),
                             tmp_path / "never.pcap"):
            pass
    assert not (tmp_path / "never.pcap").exists()
    assert capture_sidecars(lab) == []


def test_lab_capture_runs_a_command_during_the_capture_and_summarises_it(
        stack: Stack, tmp_path: Path) -> None:
    client = ("import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
              f" s.sendall({LINES!r}); print(s.makefile('rb').read().decode(), end='')")
    summary_file = tmp_path / "summary.json"
    done = subprocess.run(
        [str(LAB), "capture", "chat", "--project", stack.project, "--seconds", "60",
         "--output", str(tmp_path / "chat.pcap"), "--json", str(summary_file),
         "--", sys.executable, "-c", client, str(host_port(stack, "chat"))],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "= bye" in done.stdout and "wrote " in done.stdout
    summary = json.loads(summary_file.read_text())
    ours = [c for c in summary["connections"] if c["by_client"]["payload"] == len(LINES)]
    assert len(ours) == 1 and ours[0]["ending"].startswith("server FIN"), summary
    failing = subprocess.run(
        [str(LAB), "capture", "chat", "--project", stack.project, "--seconds", "30",
         "--output", str(tmp_path / "other.pcap"), "--", "sh", "-c", "exit 3"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert failing.returncode == 3, failing.stdout + failing.stderr


async def test_lab_check_capture_records_the_checks_on_the_grading_containers_loopback(
        docker_lab: None, tmp_path: Path) -> None:
    from lab.exercises.ex01_first_connection import EXERCISE as FIRST
    from lab.exercises.runner import Request, grade

    program = ROOT / "exercises" / "01-first-connection" / "reference_server.py"
    output = tmp_path / "checks.pcap"
    request = Request(FIRST, program, "server", 1, capture=output)
    with trio.fail_after(request.time_limit() + 60):
        results = await grade(request)
    assert [r.verdict for r in results] == ["pass"] * len(results) and results
    summary = summarize(read_segments(output).segments)
    assert summary.connections, "the checks made no connection on the loopback"
    assert {c.server.host for c in summary.connections} == {"127.0.0.1"}
    assert any(c.handshake.complete and c.by_client.payload > 0 for c in summary.connections)
    client = docker.from_env()
    try:
        assert find_labelled(client, {f"{LABEL_PREFIX}.role": "capture",
                                      f"{LABEL_PREFIX}.session": SESSION_ID}) == []
    finally:
        client.close()
