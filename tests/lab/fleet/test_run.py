"""Running fleets: the deadline stops everything, and ``lab fleet run`` prints ops and exits 0."""

from __future__ import annotations

import json
from functools import partial

import trio
from click.testing import CliRunner

from lab.fleet.cli import cli
from lab.fleet.spec import ChatSpec, ExecSpec, FleetSpec, UploadSpec
from lab.history import History
from tests.lab.fleet.conftest import RunFleet
from tests.support.ports import free_port


async def never_answer(stream: trio.SocketStream) -> None:
    """Accepts, reads and discards everything, says nothing, never closes first."""
    async with stream:
        while await stream.receive_some(65536):
            pass


async def test_the_deadline_stops_a_fleet_whose_server_never_answers(
        nursery: trio.Nursery, run: RunFleet) -> None:
    listeners = await nursery.start(partial(trio.serve_tcp, never_answer, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    spec = FleetSpec(name="t", deadline=1.0,
                     chat=ChatSpec(host="127.0.0.1", port=port),
                     exec=ExecSpec(host="127.0.0.1", port=port, ran_dir="/nonexistent"),
                     upload=UploadSpec(host="127.0.0.1", port=port))
    start = trio.current_time()
    with trio.fail_after(5):
        history = await run(spec)
    assert trio.current_time() - start < 2.5
    by_process = {p: [(op.type, op.f, op.value) for op in history.of(p)]
                  for p in history.processes()}
    assert by_process["t.chat-0"][-2:] == [
        ("fail", "connect", {"error": "deadline"}),
        ("ok", "done", {"sent": 0, "received": 0})]
    assert by_process["t.exec-0"][-2:] == [
        ("info", "run", {"op": "t.exec-0/0", "error": "deadline"}),
        ("info", "disconnected", {"error": "deadline"})]
    assert by_process["t.upload-0"][-2:] == [
        ("info", "put", {"op": "t.upload-0/0", "error": "deadline"}),
        ("info", "disconnected", {"error": "deadline"})]


def spec_json(port: int) -> str:
    return json.dumps(FleetSpec(name="cli", deadline=10.0, chat=ChatSpec(
        host="127.0.0.1", port=port, messages=1)).to_json())


def test_lab_fleet_run_prints_ops_and_exits_0_when_nothing_answers() -> None:
    result = CliRunner().invoke(cli, ["run", "--spec", spec_json(free_port())])
    assert result.exit_code == 0, result.output
    history = History.from_lines(result.stdout.splitlines())
    connects = [op.type for op in history if op.f == "connect"]
    assert connects == ["invoke", "fail"] * 4  # the first attempt and three retries
    assert [op.f for op in history][-1] == "done"


def test_lab_fleet_run_reads_the_spec_from_stdin() -> None:
    result = CliRunner().invoke(cli, ["run", "--spec-file", "-"], input=spec_json(free_port()))
    assert result.exit_code == 0, result.output
    assert History.from_lines(result.stdout.splitlines()).processes() == ["cli.chat-0"]


def test_lab_fleet_run_refuses_an_invalid_spec_with_status_2() -> None:
    result = CliRunner().invoke(cli, ["run", "--spec", '{"name": "a", "chat": {"clients": -1}}'])
    assert result.exit_code == 2
    assert "chat.clients" in result.output
    assert CliRunner().invoke(cli, ["run", "--spec", "{not json"]).exit_code == 2
    assert CliRunner().invoke(cli, ["run"]).exit_code == 2
