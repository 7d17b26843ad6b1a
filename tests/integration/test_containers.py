"""How the lab's containers are built and run: roles, users, hardening, banner, volume."""

from __future__ import annotations

import json

from lab.stack import Stack
from tests.support.stacks import host_port

SERVERS = ("chat", "exec", "upload")


# What exec's sandbox needs, and nothing else (bit numbers from linux/capability.h).
SANDBOX_CAPS = ["SETUID", "SETGID", "CHOWN", "DAC_READ_SEARCH", "KILL"]
SANDBOX_CAP_MASK = sum(1 << bit for bit in (7, 6, 0, 2, 5))

def test_each_server_runs_healthy_in_its_own_container_from_one_image(stack: Stack) -> None:
    containers = {name: stack.container(name) for name in (*SERVERS, "gateway")}
    assert len({c.id for c in containers.values()}) == 4
    assert len({c.image.id for c in containers.values()}) == 1
    for name, container in containers.items():
        state = container.attrs["State"]
        assert state["Status"] == "running" and state["Health"]["Status"] == "healthy", name
        assert container.attrs["Config"]["Entrypoint"] == ["netlab"]
        assert container.attrs["HostConfig"]["Init"] is True
    for name in SERVERS:
        assert containers[name].attrs["Config"]["Cmd"] == [name, "serve"]


def test_servers_run_unprivileged_on_the_internal_network_only(stack: Stack) -> None:
    lab = stack.network("lab")
    assert lab.attrs["Internal"] is True
    for name in SERVERS:
        # exec's server is root with a handful of capabilities, so that each
        # command runs as a uid of its own (tests/integration/test_sandbox.py).
        expected = "0" if name == "exec" else "10001"
        assert stack.exec(name, "id", "-u", check=True).stdout.strip() == expected, name
        networks = stack.container(name).attrs["NetworkSettings"]["Networks"]
        assert list(networks) == [lab.name], name
    gateway_networks = set(stack.container("gateway").attrs["NetworkSettings"]["Networks"])
    assert gateway_networks == {lab.name, stack.network("edge").name}


def test_the_exec_container_is_hardened(stack: Stack) -> None:
    host = stack.container("exec").attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == sorted(SANDBOX_CAPS)
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["PidsLimit"] == 128
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == 1_000_000_000
    denied = stack.exec("exec", "sh", "-c", "touch /opt/netlab/x")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    assert stack.exec("exec", "sh", "-c", "touch /tmp/x && rm /tmp/x").returncode == 0
    caps = stack.exec("exec", "grep", "CapEff", "/proc/1/status", check=True).stdout
    assert int(caps.split()[-1], 16) == SANDBOX_CAP_MASK


def test_fault_tools_are_in_the_image(stack: Stack) -> None:
    result = stack.exec(
        "client", "sh", "-c", "for t in ip iptables tcpdump; do command -v $t; done", check=True
    )
    assert [path.rsplit("/", 1)[1] for path in result.stdout.split()] == [
        "ip", "iptables", "tcpdump"
    ]


def test_the_gateway_banner_says_how_to_connect(stack: Stack) -> None:
    logs = stack.compose.logs(["gateway"])
    chat, exec_, upload = (host_port(stack, s) for s in SERVERS)
    assert f"chat    127.0.0.1:{chat}" in logs
    assert f"netlab chat client --host 127.0.0.1 --port {chat}" in logs
    assert f"netlab exec run --host 127.0.0.1 --port {exec_}" in logs
    assert f"netlab upload put --host 127.0.0.1 --port {upload}" in logs


def test_uploads_are_kept_on_a_named_volume(stack: Stack) -> None:
    mounts = stack.container("upload").attrs["Mounts"]
    (volume,) = [m for m in mounts if m["Destination"] == "/data/uploads"]
    assert volume["Type"] == "volume" and volume["Name"] == f"{stack.project}_uploads"


READ_STATS = (
    "import json, socket, sys\n"
    "with socket.create_connection((sys.argv[1], 9000), timeout=5) as s:\n"
    "    data = b''\n"
    "    while chunk := s.recv(65536):\n"
    "        data += chunk\n"
    "print(json.dumps(json.loads(data)))\n"
)


def test_every_server_serves_its_counters_to_the_lab_network(stack: Stack) -> None:
    for service in (*SERVERS, "gateway"):
        result = stack.exec("client", "python", "-c", READ_STATS, service, check=True)
        counters = json.loads(result.stdout)
        assert {"connections_total", "bytes_in", "bytes_out", "errors"} <= set(counters)
    # The figures are live: one connection of ours shows up in chat's count.
    before = json.loads(stack.exec("client", "python", "-c", READ_STATS, "chat").stdout)
    stack.exec("client", "python", "-c",
               "import socket; socket.create_connection(('chat', 8000), timeout=5).close()",
               check=True)
    after = json.loads(stack.exec("client", "python", "-c", READ_STATS, "chat").stdout)
    assert after["connections_total"] == before["connections_total"] + 1


def test_the_pids_limit_stops_a_fork_storm_in_exec(stack: Stack) -> None:
    storm = "for i in $(seq 300); do sleep 2 & done; wait"
    result = stack.exec("client", "netlab", "exec", "run", "--host", "exec", "--port", "8000",
                        "--", storm, timeout=60)
    assert result.returncode != 0 and "fork" in result.stderr.lower(), result.stderr
    limit = stack.exec("exec", "cat", "/sys/fs/cgroup/pids/pids.max", check=True).stdout
    assert limit.strip() == "128"
    # The storm hit the limit: the kernel counted refused forks ("max N").
    events = stack.exec("exec", "cat", "/sys/fs/cgroup/pids/pids.events", check=True).stdout
    assert int(events.split()[-1]) > 0, events
    # ...and exec serves the next command as usual.
    after = stack.exec("client", "netlab", "exec", "run", "--host", "exec", "--port", "8000",
                       "--", "echo", "still here", timeout=60)
    assert after.returncode == 0 and after.stdout == "still here\n", after.stderr
