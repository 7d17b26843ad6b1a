"""Container healthcheck: is the server listening (and its event loop answering)?

Run as ``python -m lab.healthcheck`` by the image's ``HEALTHCHECK``. It never
connects to the service port: the listening socket is looked up in
``/proc/net/tcp`` and ``/proc/net/tcp6`` of the container, so a classic-mode
peer and the server's connect/disconnect logs see nothing. When
``NETLAB_STATS_PORT`` is set, one JSON line is read from the stats port, which
proves the event loop still answers.

Ports checked: ``NETLAB_HEALTH_PORTS`` (comma-separated, e.g. a gateway's
routes), else ``NETLAB_PORT``, else 8000. With
``NETLAB_HEALTH_NO_DEFAULT_ROUTE=1`` the container is healthy only without a
default route (see ``exec-noroute`` in compose.yaml). Exit status 0 means
healthy.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

TCP_LISTEN = "0A"
PROC_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
PROC_ROUTES = Path("/proc/net/route")
PROC_ROUTES6 = Path("/proc/net/ipv6_route")
STATS_TIMEOUT = 2.0
DEFAULT_PORT = 8000


def listening_ports(tables: Iterable[Path] = PROC_TABLES) -> set[int]:
    """Ports with a socket in LISTEN state, read from the kernel's TCP tables."""
    ports: set[int] = set()
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == TCP_LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def has_default_route(
    routes: Path = PROC_ROUTES, routes6: Path = PROC_ROUTES6
) -> bool:
    """True when the kernel's routing tables hold a default route (IPv4 or IPv6)."""
    try:
        for line in routes.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
                return True
    except OSError:
        pass
    try:
        for line in routes6.read_text().splitlines():
            fields = line.split()
            # Destination ::/0 through a real device (not the "lo" unreachable entry).
            if len(fields) > 9 and fields[0] == "0" * 32 and fields[1] == "00" \
                    and fields[9] != "lo":
                return True
    except OSError:
        pass
    return False


def ports_to_check(env: Mapping[str, str]) -> list[int]:
    """The ports the environment says must be listening."""
    spec = env.get("NETLAB_HEALTH_PORTS") or env.get("NETLAB_PORT") or str(DEFAULT_PORT)
    return [int(part) for part in spec.split(",") if part.strip()]


def stats_answer(port: int, *, timeout: float = STATS_TIMEOUT) -> dict[str, object]:
    """One JSON line from the stats port on loopback."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    if not isinstance(answer, dict):
        raise ValueError("stats answer is not an object")
    return answer


def check(env: Mapping[str, str]) -> list[str]:
    """Problems found; empty when healthy."""
    problems = []
    listening = listening_ports()
    for port in ports_to_check(env):
        if port not in listening:
            problems.append(f"nothing listening on port {port}")
    if env.get("NETLAB_HEALTH_NO_DEFAULT_ROUTE") == "1" and has_default_route():
        problems.append("a default route is still present")
    stats_port = env.get("NETLAB_STATS_PORT")
    if stats_port:
        try:
            stats_answer(int(stats_port))
        except (OSError, ValueError) as exc:
            problems.append(f"stats port {stats_port} did not answer: {exc}")
    return problems


def main() -> int:
    problems = check(os.environ)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
