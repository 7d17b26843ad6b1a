"""Chat across containers: clients on the lab network, and a learner on the host."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from lab.stack import Stack
from tests.support.stacks import host_port

CLIENTS = Path(__file__).parent / "clients"
NETLAB = str(Path(sys.executable).parent / "netlab")


def test_three_clients_in_containers_each_receive_the_others_messages_in_order(
    stack: Stack,
) -> None:
    script = (CLIENTS / "chat_three.py").read_text()
    result = stack.exec("client", "python", "-", "chat", "8000", input=script, timeout=90)
    assert result.returncode == 0, result.stderr
    received = json.loads(result.stdout.strip().splitlines()[-1])["received"]
    nicks = ("ann", "bob", "cid")
    for nick in nicks:
        for other in nicks:
            if other != nick:
                assert received[nick][other] == [f"{other}:{i}" for i in range(20)], (nick, other)


def test_a_learner_on_the_host_chats_through_the_published_port(stack: Stack) -> None:
    port = host_port(stack, "chat")
    result = subprocess.run(
        [NETLAB, "chat", "client", "--host", "127.0.0.1",
         "--port", str(port), "--nick", "learner"],
        input="/who\n", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "learner" in result.stdout


def test_a_plain_tcp_client_on_the_host_gets_line_protocol_answers(stack: Stack) -> None:
    port = host_port(stack, "chat")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"/nick hostline\n/who\n/quit\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    text = data.decode()
    assert "hostline" in text and "= bye" in text, text
