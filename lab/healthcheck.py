"""Container healthcheck: is the server listening (and its event loop answering)?

Run as ``python -m lab.healthcheck`` by the image's ``HEALTHCHECK``. It never
connects to the service port: the listening socket is looked up in
``/proc/net/tcp`` and ``/proc/net/tcp6`` of the container, so a classic-mode
peer and the server's connect/disconnect logs see nothing. When
``NETLAB_STATS_PORT`` is set, one JSON line is read from the stats port, which
proves the event loop still answers.

Ports checked: ``NETLAB_HEALTH_PORTS`` (comma-separated, e.g. a gateway's
routes), else ``NETLAB_PORT``, else 8000. Exit status 0 means healthy.
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
