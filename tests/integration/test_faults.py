"""Faults of every family on the session's lab: each breaks what it says, and its revert leaves
the stack healthy and serving. Programs run in labelled containers that are always removed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import docker.errors
import pytest
import trio

from lab.containers import Launch, find_labelled, fleet_launch, run_program, run_to_end
from lab.faults.base import Fault, Target, applied
from lab.faults.container import KillClient, Pause, RestartServer
from lab.faults.context import LabContext
from lab.faults.network import Disconnect, Drop, Reject, Tbf, in_namespace, netem_available
from lab.faults.peer import PeerRst, PeerSlowloris
from lab.faults.stream import Latency
from lab.history import Op
from lab.observe import observe
from lab.stack import Stack
from tests.support.stacks import host_port

CHAT = "chat:8000"
# Connects to each HOST:PORT, says "/quit" (chat answers only once a client has spoken) and
# reads what comes first (2 s each): one word per target.
PROBE = r"""
import json, socket, sys
seen = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        s = socket.create_connection((host, int(port)), timeout=2)
    except socket.gaierror:
        seen[target] = "dns"; continue
    except ConnectionRefusedError:
        seen[target] = "refused"; continue
    except TimeoutError:
        seen[target] = "timeout"; continue
    except OSError as exc:
        seen[target] = f"unreachable {exc.errno}"; continue
    s.settimeout(2)
    try:
        s.sendall(b"/quit\n")
        data = s.recv(100)
        seen[target] = "welcome" if data.startswith(b"= welcome") else "eof" if not data else "data"
    except (ConnectionResetError, BrokenPipeError):
        seen[target] = "reset"
    except TimeoutError:
        seen[target] = "silent"
    finally:
        s.close()
print(json.dumps(seen))
"""


@pytest.fixture
def lab(stack: Stack) -> LabContext:
    return LabContext(stack)


async def probe(lab: LabContext, target: str = CHAT, *, quick_dns: bool = False) -> str:
    """What a client on the lab network meets at ``target`` (``welcome``, ``refused``...).

    ``quick_dns``: a name Docker's DNS no longer knows fails in 1 s, not 10.
    """
    launch = Launch(role="probe", dns_options=("timeout:1", "attempts:1") if quick_dns else ())
    end = await run_to_end(lab, ["python", "-c", PROBE, target], launch=launch, timeout=30)
    assert end.ok, end.stderr
    return str(json.loads(end.stdout[-1])[target])


async def host_welcome(stack: Stack, timeout: float = 5) -> bytes:
    """chat's first answer to ``/quit`` through the gateway's published port."""
    with trio.fail_after(timeout):
        async with await trio.open_tcp_stream("127.0.0.1", host_port(stack, "chat")) as s:
            await s.send_all(b"/quit\n")
            return bytes(await s.receive_some(100))


async def test_a_program_streams_its_lines_and_gives_its_status_and_stderr(
    lab: LabContext,
) -> None:
    script = ("import sys\nfor line in sys.stdin: print('got', line.strip(), flush=True)\n"
              "print('bye', file=sys.stderr); sys.exit(3)")
    async with run_program(lab, ["python", "-c", script], stdin=b"a\nb\n") as program:
        lines = [line async for line in program.lines]
        end = await program.wait()
        name = program.name
        attrs = await trio.to_thread.run_sync(lambda: program.container.attrs)
    assert lines == ["got a", "got b"]
    assert (end.status, end.stderr) == (3, "bye\n")
    assert attrs["Config"]["Labels"]["com.docker.compose.project"] == lab.project
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert not lab.docker.containers.list(all=True, filters={"name": name})


async def test_a_programs_container_is_removed_when_the_block_fails(lab: LabContext) -> None:
    launch = Launch(role="doomed")
    with pytest.raises(RuntimeError):
        async with run_program(lab, ["sleep", "60"], launch=launch):
            raise RuntimeError("the block failed")
    with pytest.raises(docker.errors.APIError, match="no-such-user"):  # at the start
        async with run_program(lab, ["true"], launch=Launch(role="doomed", user="no-such-user")):
            pass
    assert find_labelled(lab.docker, lab.labels(role="doomed")) == []


async def test_netem_is_detected_and_the_proxy_named_instead(lab: LabContext) -> None:
    available, message = await netem_available(lab)
    if available:  # a kernel with sch_netem (not the lab's reference machine)
        assert "available" in message
    else:
        assert "netem is not available" in message and "latency" in message


async def test_a_paused_chat_accepts_but_says_nothing_until_unpaused(lab: LabContext) -> None:
    async with applied(Pause(target=Target(service="chat")), lab, lab.history):
        assert await probe(lab) == "silent"
    assert await probe(lab) == "welcome"


async def test_a_reject_rule_refuses_chat_until_reverted(lab: LabContext) -> None:
    async with applied(Reject(target=Target(service="chat")), lab, lab.history) as details:
        assert [rule.split(" -j ")[0] for rule in details["rules"]] == [
            "INPUT -p tcp --dport 8000 ! --tcp-flags RST RST",
            "OUTPUT -p tcp --sport 8000 ! --tcp-flags RST RST"]
        assert await probe(lab) == "refused"
    assert await probe(lab) == "welcome"


async def test_a_reject_resets_the_servers_side_at_its_next_send(lab: LabContext) -> None:
    marker = "netlab-op-rejected.exec-0_0"
    command = f"for i in $(seq 100); do echo $i; sleep 0.1; done; : {marker}"
    client = ["netlab", "exec", "run", "--host", "exec", "--port", "8000", "--", command]
    launch = Launch(role="probe", environment={"NETLAB_EXEC_TOKEN": "netlab-lab"})
    async with run_program(lab, client, launch=launch) as program:
        assert await program.lines.receive() == "1"  # streaming
        async with applied(Reject(target=Target(service="exec")), lab, lab.history):
            with trio.fail_after(10):  # the server kills the command: reset at its next send
                while True:  # no event to wait on: the exec container is polled
                    found = await observe(lab, services=("exec",))
                    if not any(marker in c for c in found["exec"]["leftovers"]):
                        break
                    await trio.sleep(0.2)
        await program.kill()
    assert await probe(lab, "exec:8000") in ("silent", "data")


async def test_an_inbound_drop_times_connects_out_until_reverted(lab: LabContext) -> None:
    async with applied(Drop(target=Target(service="chat"), direction="inbound"), lab,
                       lab.history):
        assert await probe(lab) == "timeout"
    assert await probe(lab) == "welcome"


async def test_a_disconnected_chat_is_unreachable_and_found_again_after(
    lab: LabContext, stack: Stack,
) -> None:
    async with applied(Disconnect(target=Target(service="chat")), lab, lab.history):
        assert await probe(lab, quick_dns=True) in ("dns", "timeout", "unreachable 113")
    assert await probe(lab) == "welcome"
    assert (await host_welcome(stack)).startswith(b"= welcome")


async def test_a_tbf_qdisc_is_set_on_the_lab_interface_and_removed(lab: LabContext) -> None:
    chat = lab.container("chat")
    async with applied(Tbf(target=Target(service="chat"), rate=100_000), lab, lab.history):
        shown = await in_namespace(lab, chat, "tc qdisc show")
        assert any(" tbf " in line and "800Kbit" in line for line in shown.stdout), shown
    shown = await in_namespace(lab, chat, "tc qdisc show")
    assert not any(" tbf " in line for line in shown.stdout)
    assert await probe(lab) == "welcome"


async def test_a_restarted_server_drains_with_status_0_and_serves_again(
    lab: LabContext,
) -> None:
    async with applied(RestartServer(target=Target(service="exec")), lab,
                       lab.history) as details:
        assert details["exit_status"] == 0
    exec_ = lab.container("exec")
    assert exec_.attrs["State"]["Health"]["Status"] == "healthy"  # no default route again
    assert await probe(lab, "exec:8000") in ("silent", "data")


async def test_killing_a_fleet_kills_its_container(lab: LabContext) -> None:
    idle = "import sys; sys.stdin.read()"
    kill = KillClient(target=Target(fleet="victims"))
    async with run_program(lab, ["python", "-c", idle], launch=fleet_launch("victims"),
                           hold_stdin=True) as program, applied(kill, lab, lab.history):
        with trio.fail_after(20):
            end = await program.wait()
    assert end.status == 137


@dataclass(frozen=True, kw_only=True)
class StandInRst(PeerRst):
    """A stand-in for ``lab rogue``: prints one op, then waits for its stdin to end."""

    kind: ClassVar[str] = "peer-rst-stand-in"

    def argv(self) -> list[str]:
        op = Op(time.time(), "rogue.rst-0", "info", "rst", {"count": self.count})
        script = f"import sys; print({op.line()!r}, flush=True); sys.stdin.read()"
        return ["python", "-c", script]


async def test_a_peer_fault_runs_until_reverted_and_its_ops_join_the_history(
    lab: LabContext,
) -> None:
    fault = StandInRst(target=Target(service="chat"), count=2)
    async with applied(fault, lab, lab.history) as details:
        assert lab.docker.containers.get(details["container"]).status == "running"
    rogue = [op for op in lab.history if op.process == "rogue.rst-0"]
    assert [(op.f, op.value) for op in rogue] == [("rst", {"count": 2})]
    assert find_labelled(lab.docker, lab.labels(role="rogue")) == []


async def test_the_servers_are_observed_from_inside_their_containers(
    lab: LabContext, stack: Stack,
) -> None:
    since = time.time() - 1
    marker = "netlab-op-observed.exec-0_0"
    stack.exec("exec", "touch", f"/tmp/netlab-ran.{marker}.1", check=True)
    # A command of the fleet's shape still running (it ends by itself in 5 s).
    lab.container("exec").exec_run(["sh", "-c", f"sleep 5; : {marker}"], detach=True)
    stack.exec("upload", "sh", "-c", "printf abc > /data/uploads/observed-1.bin", check=True)
    try:
        found: dict[str, Any] = await observe(lab, since=since)
    finally:
        stack.exec("upload", "rm", "-f", "/data/uploads/observed-1.bin")
    assert found["exec"]["ran"] == {marker: 1}
    assert [c for c in found["exec"]["leftovers"] if marker in c] == [f"sh -c sleep 5; : {marker}"]
    assert found["upload"]["files"]["observed-1.bin"] == {
        "size": 3, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    assert "errors" not in found


async def test_rogue_peers_reset_chat_and_their_ops_join_the_history(lab: LabContext) -> None:
    async with applied(PeerRst(target=Target(service="chat"), count=2), lab, lab.history):
        pass
    closes = [op for op in lab.history if op.process.startswith("rogue.rst-") and op.f == "close"]
    assert len(closes) == 2 and all(op.value["reset"] for op in closes)
    assert await probe(lab) == "welcome"


async def test_a_held_rogue_stops_at_the_revert_not_at_its_hold(lab: LabContext) -> None:
    fault = PeerSlowloris(target=Target(service="exec"), hold=60)
    started = time.monotonic()
    async with applied(fault, lab, lab.history):
        await trio.sleep(1.5)
    assert time.monotonic() - started < 15
    assert [op.type for op in lab.history if op.process == "rogue.slowloris-0"
            and op.f == "connect"] == ["invoke", "ok"]
    assert find_labelled(lab.docker, lab.labels(role="rogue")) == []


def proxy_api_in(stack: Stack) -> bool:
    return "NETLAB_PROXY_PORT" in stack.env


async def test_a_stream_fault_slows_chat_through_the_gateway_until_reverted(
    lab: LabContext, stack: Stack,
) -> None:
    if not proxy_api_in(stack):
        pytest.skip("this compose.yaml publishes no fault-proxy control API")
    fault: Fault = Latency(target=Target(service="chat"), latency=600)
    async with applied(fault, lab, lab.history):
        started = time.monotonic()
        assert (await host_welcome(stack)).startswith(b"= welcome")
        assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert (await host_welcome(stack)).startswith(b"= welcome")
    assert time.monotonic() - started < 0.5
