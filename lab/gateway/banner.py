"""The banner the gateway prints at start: where the host reaches each server, and how.

``docker compose up`` shows it within seconds, so a learner knows the ports
and a client command for each service without reading the docs.
"""

from __future__ import annotations

from lab.gateway.routes import PublicAddress, Route

# Client commands per upstream service; {host} and {port} are the public address.
HINTS: dict[str, tuple[str, ...]] = {
    "chat": (
        "netlab chat client --host {host} --port {port}",
        "nc {host} {port}        # line-oriented text works too",
    ),
    "exec": (
        "netlab exec run --host {host} --port {port} --token TOKEN -- uname -a",
        "# TOKEN: $NETLAB_EXEC_TOKEN of the lab, netlab-lab unless you set it",
    ),
    "upload": (
        "netlab upload put --host {host} --port {port} FILE",
        "netlab upload list --host {host} --port {port}",
    ),
}


def banner(routes: tuple[Route, ...], public: tuple[PublicAddress, ...]) -> str:
    """Human-readable lines: one block per route, with the public address if known."""
    where = {p.listen_port: p for p in public}
    lines = ["", "netlab lab is up. From this machine:"]
    for route in routes:
        address = where.get(route.listen_port)
        host, port = (address.host, address.port) if address else ("<gateway>", route.listen_port)
        lines.append(f"  {route.name:<7} {host}:{port}")
        for hint in HINTS.get(route.name, ()):
            lines.append("      " + hint.format(host=host, port=port))
    lines.append("Your own programs (the tutorial's clients) connect to the same addresses.")
    if routes:
        # Host ports differ per service; inside the lab each server has the same port.
        inside = ", ".join(f"{r.upstream_host}:{r.upstream_port}" for r in routes)
        lines.append(f"Inside the lab network (client containers) they are {inside}.")
    lines.append("Stop the lab with Ctrl-C, or `docker compose down` if it runs detached.")
    return "\n".join(lines) + "\n"
