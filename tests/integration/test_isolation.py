"""The lab's walls: exec has no way out, learner ports are on 127.0.0.1 only."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator

import docker
import pytest

from lab.labels import labels, session_filter
from lab.readiness import Wait, port_accepts
from lab.stack import Stack
from tests.support.stacks import host_port

PROBE_PORT = 9999
LISTENER = (
    "import socket; s = socket.create_server(('0.0.0.0', 9999)); "
    "print('listening', flush=True); "
    "[c.close() for c in iter(lambda: s.accept()[0], None)]"
)
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "except OSError as exc:\n"
    "    print('unreachable:', exc); sys.exit(3)\n"
    "print('connected')\n"
)


@pytest.fixture
def outside_listener(stack: Stack) -> Iterator[str]:
    """A listener of our own on a separate, ordinary Docker network; yields its address."""
    client = docker.from_env()
    network = client.networks.create(f"netlab-probe-{uuid.uuid4().hex[:8]}", driver="bridge",
                                     labels=labels(role="probe"))
    container = None
    try:
        container = client.containers.run(
            "netlab:latest", ["-c", LISTENER], entrypoint="python", detach=True,
            network=network.name, labels=labels(role="probe"),
        )
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        # Control: the listener is up and reachable from this machine, so a
        # failure from inside the lab is the lab's walls, not a dead listener.
        Wait(timeout=30).until(lambda: port_accepts(address, PROBE_PORT), "the probe listener")
        yield address
    finally:
        if container is not None:
            container.remove(force=True)
        network.remove()
        client.close()


def test_exec_has_no_default_route(stack: Stack) -> None:
    routes = stack.exec("exec", "ip", "route", check=True).stdout
    routes6 = stack.exec("exec", "ip", "-6", "route", check=True).stdout
    assert "dev eth0" in routes, routes  # the lab network is there...
    assert not [line for line in (routes + routes6).splitlines() if line.startswith("default")]


def test_exec_cannot_reach_a_listener_on_another_docker_network(
    stack: Stack, outside_listener: str
) -> None:
    result = stack.exec("exec", "python", "-c", CONNECT, outside_listener, str(PROBE_PORT))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "unreachable" in result.stdout


def test_clients_on_the_lab_network_cannot_reach_it_either(
    stack: Stack, outside_listener: str
) -> None:
    result = stack.exec("client", "python", "-c", CONNECT, outside_listener, str(PROBE_PORT))
    assert result.returncode == 3, result.stdout + result.stderr


def test_the_probe_objects_are_labelled_with_this_session(outside_listener: str) -> None:
    client = docker.from_env()
    try:
        probes = client.containers.list(filters=session_filter())
        assert any(outside_listener in json.dumps(c.attrs["NetworkSettings"]) for c in probes)
    finally:
        client.close()


def test_learner_ports_are_published_on_loopback_only(stack: Stack) -> None:
    bindings = stack.container("gateway").attrs["NetworkSettings"]["Ports"]
    published = {key: value for key, value in bindings.items() if value}
    assert set(published) == {"8000/tcp", "8001/tcp", "8002/tcp", "8474/tcp"}  # 8474: proxy API
    for port_bindings in published.values():
        assert [b["HostIp"] for b in port_bindings] == ["127.0.0.1"]
    for service in ("chat", "exec", "upload", "client"):
        ports = stack.container(service).attrs["NetworkSettings"]["Ports"] or {}
        assert not any(ports.values()), (service, ports)


def this_machines_addresses() -> list[str]:
    """Every non-loopback IPv4/IPv6 address of this machine's interfaces."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    found = []
    for interface in json.loads(out):
        for info in interface.get("addr_info", []):
            address = ipaddress.ip_address(info["local"])
            if not address.is_loopback and not address.is_link_local:
                found.append(str(address))
    return found


def test_learner_ports_refuse_connections_on_the_machines_other_addresses(stack: Stack) -> None:
    addresses = this_machines_addresses()
    assert addresses, "expected at least one non-loopback address (Docker's bridges have one)"
    for service in ("chat", "exec", "upload"):
        port = host_port(stack, service)
        assert port_accepts("127.0.0.1", port)
        for address in addresses:
            with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
                pass
