"""The container healthcheck finds listening sockets without connecting to them."""

from __future__ import annotations

import socket

from lab.healthcheck import check, listening_ports, ports_to_check


def test_a_listening_socket_is_found_and_a_closed_one_is_not() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port in listening_ports()
        assert check({"NETLAB_PORT": str(port)}) == []
    assert port not in listening_ports()
    assert check({"NETLAB_PORT": str(port)}) == [f"nothing listening on port {port}"]


def test_a_connected_but_not_listening_socket_does_not_count() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            client_port = client.getsockname()[1]
            assert client_port not in listening_ports()


def test_ports_come_from_health_ports_then_port_then_default() -> None:
    assert ports_to_check({"NETLAB_HEALTH_PORTS": "8000,8001", "NETLAB_PORT": "9"}) == [8000, 8001]
    assert ports_to_check({"NETLAB_PORT": "9"}) == [9]
    assert ports_to_check({}) == [8000]


def test_a_silent_stats_port_is_a_problem() -> None:
    with socket.socket() as stats:
        stats.bind(("127.0.0.1", 0))
        port = stats.getsockname()[1]
    problems = check({"NETLAB_PORT": str(port), "NETLAB_STATS_PORT": str(port)})
    assert problems[0] == f"nothing listening on port {port}"
    assert problems[1].startswith(f"stats port {port} did not answer")
