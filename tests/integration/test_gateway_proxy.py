"""The fault proxy in the gateway container: its control API from the host, toxics acting on
the learners' path and on clients of the lab network, and the API's refusals."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lab.stack import Stack
from tests.support.stacks import host_port

TOKEN = "netlab-lab"  # compose's default NETLAB_PROXY_TOKEN
LATENCY_MS = 800


def api(stack: Stack, method: str, path: str, body: Any = None, *,
        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request on the control API published on the host: ``(status, json)``."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{host_port(stack, 'proxy')}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                 **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def clean_proxies(stack: Stack) -> Iterator[None]:
    """No toxic outlives the test (the stack is shared by the session)."""
    yield
    assert api(stack, "POST", "/reset")[0] == 200


def who_round_trip(sock: socket.socket) -> float:
    """Seconds from ``/who`` to chat's answer (the lines before it, a welcome, skipped)."""
    start = time.monotonic()
    sock.sendall(b"/who\n")
    data = b""
    while not data.startswith(b"= who ") or not data.endswith(b"\n"):
        if data.endswith(b"\n"):
            data = b""  # a whole line that is not the answer
        chunk = sock.recv(1)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return time.monotonic() - start


def test_the_control_api_lists_one_proxy_per_route(stack: Stack) -> None:
    status, proxies = api(stack, "GET", "/proxies")
    assert status == 200
    assert {p["name"]: p["upstream"] for p in proxies} == {
        "chat": "chat:8000", "exec": "exec:8000", "upload": "upload:8000"}


def test_latency_on_chat_delays_a_learners_round_trip_until_removed(
    stack: Stack, clean_proxies: None,
) -> None:
    with socket.create_connection(("127.0.0.1", host_port(stack, "chat")), timeout=20) as sock:
        who_round_trip(sock)  # chat knows the client's mode now: the welcome came first
        before = who_round_trip(sock)
        status, toxic = api(stack, "POST", "/proxies/chat/toxics",
                            {"type": "latency", "name": "slow",
                             "attributes": {"latency": LATENCY_MS}})
        assert status == 201, toxic
        slowed = who_round_trip(sock)  # the open connection is slowed as it is
        assert api(stack, "DELETE", "/proxies/chat/toxics/slow")[0] == 200
        after = who_round_trip(sock)
    assert slowed >= LATENCY_MS / 1000 * 0.9, (before, slowed, after)
    assert before < LATENCY_MS / 1000 and after < LATENCY_MS / 1000, (before, slowed, after)


def test_a_request_from_a_web_page_or_without_the_token_is_refused(stack: Stack) -> None:
    status, answer = api(stack, "GET", "/proxies", headers={"Origin": "http://evil.example"})
    assert status == 403, answer
    status, answer = api(stack, "GET", "/proxies", headers={"Authorization": "Bearer wrong"})
    assert status == 401, answer
    status, answer = api(stack, "GET", "/proxies", headers={"Host": "evil.example"})
    assert status == 403, answer


def test_the_control_api_is_published_on_loopback_only(stack: Stack) -> None:
    bindings = stack.container("gateway").attrs["NetworkSettings"]["Ports"]["8474/tcp"]
    assert [(b["HostIp"], b["HostPort"]) for b in bindings] == [
        ("127.0.0.1", str(host_port(stack, "proxy")))]


# Runs in a client container: connects to chat through the gateway, then asks the
# control API (as gateway:8474, on the lab network) for its connection by address.
FIND_MYSELF = """
import json, socket, sys, urllib.request
conn = socket.create_connection(("gateway", 8000), timeout=10)
conn.sendall(b"/who\\n")
conn.recv(4096)  # relayed both ways
local = "{}:{}".format(*conn.getsockname()[:2])
request = urllib.request.Request(
    "http://gateway:8474/proxies/chat/connections?peer=" + local,
    headers={"Authorization": "Bearer " + sys.argv[1]})
listed = json.loads(urllib.request.urlopen(request, timeout=10).read())
print(json.dumps({"local": local, "listed": listed}))
conn.close()
"""


def test_a_lab_client_through_the_gateway_is_found_by_its_own_address(stack: Stack) -> None:
    result = stack.exec("client", "python", "-c", FIND_MYSELF, TOKEN, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert [conn["peer"] for conn in found["listed"]] == [found["local"]]
