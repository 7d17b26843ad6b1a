"""Rogue peers against the real servers: each misbehaviour is answered as documented, and the
server goes on serving new clients afterwards."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from lab.history import History, Op
from lab.probe import serves
from lab.rogue import cli
from lab.rogue.peer import RogueSpec, run_rogues
from lab.rogue.wire import ErrorScanner, garbage, oversized, run_frame
from services.wire.frames import HEADER
from tests.support.ports import free_port
from tests.support.servers import start_chat, start_exec, start_upload
from tests.support.waiting import wait_for

# Short server limits, so that every reaction comes within a test's time.
CHAT = {"send_timeout": 1.0, "queue_size": 16}
EXEC = {"sandbox_uids": "off", "send_timeout": 1.0, "handshake_timeout": 1.0}
UPLOAD = {"send_timeout": 1.0, "handshake_timeout": 1.0}


@dataclass(frozen=True)
class Expect:
    """How the rogue's connection ends: ``f`` (close or closed-by-server) and details."""

    f: str
    error: str | None = None
    reset: bool | None = None
    answered: bool = False  # the server sent something before the end
    hold: float = 1.5


CASES = {
    ("chat", "fin"): Expect("close", reset=False),
    ("chat", "rst"): Expect("close", reset=True),
    ("chat", "half-close"): Expect("closed-by-server", reset=False, answered=True),
    ("chat", "stop-reading"): Expect("closed-by-server", reset=True, hold=4.0),
    # netlab-mode chat has no deadline on the preface: a trickling client is held.
    ("chat", "slowloris"): Expect("close"),
    ("chat", "garbage"): Expect("closed-by-server", error="too-many-errors", answered=True),
    # A line too long is refused; the connection goes on.
    ("chat", "oversized"): Expect("close", answered=True),
    ("exec", "fin"): Expect("close", reset=False),
    ("exec", "rst"): Expect("close", reset=True),
    ("exec", "half-close"): Expect("closed-by-server", answered=True),
    ("exec", "stop-reading"): Expect("closed-by-server", reset=True, hold=4.0),
    ("exec", "slowloris"): Expect("closed-by-server", hold=4.0),
    ("exec", "garbage"): Expect("closed-by-server", error="bad-message", answered=True),
    ("exec", "oversized"): Expect("closed-by-server", error="frame-too-large", answered=True),
    ("upload", "fin"): Expect("close", reset=False),
    ("upload", "rst"): Expect("close", reset=True),
    ("upload", "half-close"): Expect("closed-by-server", reset=False, answered=True),
    ("upload", "stop-reading"): Expect("closed-by-server", hold=3.0),
    ("upload", "slowloris"): Expect("closed-by-server", hold=4.0),
    ("upload", "garbage"): Expect("closed-by-server", error="bad-message", answered=True),
    ("upload", "oversized"): Expect("closed-by-server", error="frame-too-large",
                                    answered=True),
}


async def start(nursery: trio.Nursery, service: str, tmp_path: Path) -> Any:
    if service == "chat":
        return await start_chat(nursery, **CHAT)
    if service == "exec":
        return await start_exec(nursery, **EXEC)
    return await start_upload(nursery, tmp_path / "up", **UPLOAD)


def rogue_commands_running() -> list[str]:
    """Command lines of processes still running the rogues' exec command."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "netlab-rogue; sleep" in text and "sh" in text.split(" ", 1)[0]:
            found.append(text)
    return found


async def rogue_history(spec: RogueSpec, stop: trio.Event | None = None) -> History:
    out = io.StringIO()
    await run_rogues(spec, out, stop)
    return History.from_lines(out.getvalue().splitlines())


@pytest.mark.parametrize(("service", "behaviour"), list(CASES),
                         ids=[f"{s}-{b}" for s, b in CASES])
async def test_a_rogue_is_answered_as_documented_and_the_server_serves_on(
        nursery: trio.Nursery, tmp_path: Path, service: str, behaviour: str) -> None:
    expect = CASES[service, behaviour]
    server = await start(nursery, service, tmp_path)
    token = getattr(server, "token", "unused")
    spec = RogueSpec(service, server.host, server.port, behaviour,  # type: ignore[arg-type]
                     count=2, hold=expect.hold, token=token)
    with trio.fail_after(expect.hold + 8):
        history = await rogue_history(spec)
    assert sorted(history.processes()) == [f"rogue.{behaviour}-0", f"rogue.{behaviour}-1"]
    for process in history.processes():
        ops = history.of(process)
        assert [(op.type, op.f) for op in ops[:2]] == [("invoke", "connect"), ("ok", "connect")]
        end: Op = ops[-1]
        assert end.f == expect.f, ops
        if expect.error is not None:
            assert end.value["error"] == expect.error
        if expect.reset is not None:
            assert end.value["reset"] is expect.reset
        if expect.answered:
            assert end.value.get("received", 0) > 0 or history.select(f="server-error")
        assert 0 <= end.value["after"] <= expect.hold + 3.5
    if (service, behaviour) == ("chat", "oversized"):
        assert {op.value["code"] for op in history.select(f="server-error")} == {"line-too-long"}
    served = await serves(service, (server.host, server.port), token=token, timeout=5)
    assert served.ok, served.error
    await wait_for(lambda: server.counters.connections_open == 0, timeout=10)
    if service == "exec":
        await wait_for(lambda: not rogue_commands_running(), timeout=10)
    if service == "upload":
        stored = {path.name for path in (tmp_path / "up").iterdir() if path.is_file()}
        assert stored <= {f"rogue-stop-reading-{i}.bin" for i in range(2)}  # whole or absent


async def test_a_rogue_stops_when_told_to_before_its_hold(nursery: trio.Nursery) -> None:
    server = await start_chat(nursery, **CHAT)
    stop = trio.Event()
    spec = RogueSpec("chat", server.host, server.port, "slowloris", count=3, hold=60.0)
    async with trio.open_nursery() as inner:
        async def stop_soon() -> None:
            await trio.sleep(0.5)
            stop.set()
        inner.start_soon(stop_soon)
        with trio.fail_after(5):
            history = await rogue_history(spec, stop)
    assert [op.value["after"] < 2 for op in history.select(f="close")] == [True] * 3


async def test_a_rogue_that_cannot_connect_says_so() -> None:
    spec = RogueSpec("exec", "127.0.0.1", free_port(), "garbage")
    history = await rogue_history(spec)
    assert [(op.type, op.f) for op in history] == [("invoke", "connect"), ("fail", "connect")]


def test_the_error_scanner_finds_codes_across_reads() -> None:
    chat = ErrorScanner("chat")
    assert chat.feed(b"[#lobby] <a> ! not: an error\n! line-too") == []
    assert chat.feed(b"-long: line longer than 2048 bytes\n") == ["line-too-long"]
    frames = ErrorScanner("exec")
    error = json.dumps({"code": "bad-message", "message": "m", "fatal": True}).encode()
    data = run_frame("x" * 100, "t") + HEADER.pack(0x15, len(error)) + error
    assert [code for i in range(len(data)) for code in frames.feed(data[i:i + 1])] == [
        "bad-message"]


def test_garbage_is_seeded_and_oversized_passes_every_limit() -> None:
    assert garbage("chat", 1, 0) == garbage("chat", 1, 0) != garbage("chat", 1, 1)
    assert len(oversized("chat")) > 65536
    assert HEADER.unpack(oversized("upload")[-5:])[1] > 1 << 30


def test_lab_rogue_prints_ops_and_exits_0() -> None:
    result = CliRunner().invoke(cli, ["--service", "chat", "--host", "127.0.0.1", "--port",
                                      str(free_port()), "--behaviour", "fin", "--hold", "1"],
                                input="")
    assert result.exit_code == 0, result.output
    assert [op.f for op in History.from_lines(result.stdout.splitlines())] == [
        "connect", "connect"]
    refused = CliRunner().invoke(cli, ["--service", "chat", "--host", "h", "--port", "1",
                                       "--behaviour", "dance"])
    assert refused.exit_code == 2
