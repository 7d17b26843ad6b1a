"""Upload across containers: put, verify the stored hash, download, compare."""

from __future__ import annotations

import hashlib
import os
import socket
import uuid

from lab.stack import Stack
from tests.support.stacks import host_port

ROUND_TRIP = """
set -eu
head -c 3000000 /dev/urandom > /tmp/{name}
sha256sum /tmp/{name}
netlab upload put /tmp/{name} --host upload --port 8000
netlab upload stat {name} --host upload --port 8000
netlab upload get {name} -o /tmp/{name}.copy --host upload --port 8000
sha256sum /tmp/{name}.copy
rm /tmp/{name} /tmp/{name}.copy
"""


def test_a_client_container_uploads_and_downloads_a_file_with_matching_hashes(
    stack: Stack,
) -> None:
    name = f"it-{uuid.uuid4().hex[:8]}.bin"
    result = stack.exec("client", "sh", "-c", ROUND_TRIP.format(name=name), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    original = lines[0].split()[0]
    copy = lines[-1].split()[0]
    assert len(original) == 64 and copy == original
    assert original in result.stdout.split(lines[0], 1)[1]  # `stat` reports the same hash
    stored = stack.exec("upload", "sha256sum", f"/data/uploads/{name}", check=True)
    assert stored.stdout.split()[0] == original


def test_the_tutorials_upload_client_stores_a_file_through_the_learner_port(
    stack: Stack,
) -> None:
    name = f"tutorial-{uuid.uuid4().hex[:8]}.txt"
    # Not starting with a digit: glued to the header (TCP may deliver them in
    # one segment) digits would read as part of SIZE, the classic protocol's
    # known ambiguity that the lab's exercises demonstrate on purpose.
    data = b"#" + os.urandom(4999)
    with socket.create_connection(("127.0.0.1", host_port(stack, "upload")), timeout=10) as s:
        s.sendall(f"{name}|{len(data)}".encode())
        for offset in range(0, len(data), 1024):
            s.sendall(data[offset:offset + 1024])
        assert s.recv(1024) == b"true"
    stored = stack.exec("upload", "sha256sum", f"/data/uploads/{name}", check=True)
    assert stored.stdout.split()[0] == hashlib.sha256(data).hexdigest()
