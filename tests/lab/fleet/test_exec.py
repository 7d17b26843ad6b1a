"""Exec fleets against a real exec server: known output and status, one run per command."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import trio

from lab.fleet.exec import marker, plan
from lab.fleet.spec import ExecSpec, FleetSpec
from tests.lab.fleet.conftest import RunFleet
from tests.support.servers import start_exec


def exec_fleet(port: int, token: str, ran_dir: Path, **overrides: object) -> FleetSpec:
    fields = {"clients": 2, "commands": 3, "host": "127.0.0.1", "port": port, "token": token,
              "output_bytes": (0, 1000, 70000), "stream_lines": 3, "command_timeout": 10.0,
              "ran_dir": str(ran_dir), **overrides}
    return FleetSpec(name="t", seed=5, deadline=30.0, exec=ExecSpec(**fields))  # type: ignore[arg-type]


def ran_markers(directory: Path) -> Counter[str]:
    """How many times each marker's command ran (one file per run, as in the exec container)."""
    return Counter(path.name.removeprefix("netlab-ran.").rsplit(".", 1)[0]
                   for path in directory.glob("netlab-ran.*"))


def test_the_seed_fixes_every_command() -> None:
    spec = ExecSpec(commands=6, output_bytes=(0, 10, 20, 30), ran_dir="/r")
    assert plan("t.exec-0", 1, spec) == plan("t.exec-0", 1, spec)
    assert plan("t.exec-0", 1, spec) != plan("t.exec-0", 2, spec)
    first = plan("t.exec-0", 1, spec)[0]
    assert first.op == "t.exec-0/0"
    assert first.command.startswith("touch /r/netlab-ran.netlab-op-t.exec-0_0.$$; ")
    assert marker("t.exec-0/0") == "netlab-op-t.exec-0_0"


async def test_every_command_runs_once_with_its_expected_output_and_status(
        nursery: trio.Nursery, run: RunFleet, tmp_path: Path) -> None:
    server = await start_exec(nursery, sandbox_uids="off")
    history = await run(exec_fleet(server.port, server.token, tmp_path))
    invoked = {op.value["op"]: op for op in history.select(f="run", type="invoke")}
    finished = history.select(f="run", type="ok")
    assert len(invoked) == len(finished) == 2 * 4  # a streaming command and 3 others each
    for op in finished:
        expect = invoked[op.value["op"]].value["expect"]
        assert op.value["reason"] == "exit"
        assert op.value["signal"] is None
        assert (op.value["status"], op.value["stdout_bytes"], op.value["stdout_sha256"]) == (
            expect["status"], expect["stdout_bytes"], expect["stdout_sha256"])
    outputs = {op.value["op"] for op in history.select(f="output")}
    assert outputs == {op for op, inv in invoked.items() if inv.value["expect"]["stdout_bytes"]}
    assert ran_markers(tmp_path) == {marker(op): 1 for op in invoked}
    for process in ("t.exec-0", "t.exec-1"):
        ops = history.of(process)
        assert [(o.type, o.f) for o in (ops[0], ops[1], ops[-1])] == [
            ("invoke", "connect"), ("ok", "connect"), ("ok", "close")]


async def test_a_refused_command_is_a_failed_run_with_the_servers_code(
        nursery: trio.Nursery, run: RunFleet, tmp_path: Path) -> None:
    server = await start_exec(nursery, sandbox_uids="off", auth_max_failures=0)
    history = await run(exec_fleet(server.port, "wrong", tmp_path, clients=1, commands=2,
                                   stream_lines=0))
    failed = history.select(f="run", type="fail")
    assert [op.value["code"] for op in failed] == ["auth-failed", "auth-failed"]
    assert [op.value["error"] for op in history.select(f="disconnected")] == [
        failed[0].value["code"] + ": " + failed[0].value["message"]] * 2
    assert ran_markers(tmp_path) == {}
