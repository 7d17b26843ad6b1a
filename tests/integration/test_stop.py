"""Starting and stopping: the banner at `up`, every server exits 0 within 2 s of
`docker stop`, Ctrl-C stops everything cleanly, `down` leaves nothing.

Each test uses a stack of its own, since it stops the servers.
"""

from __future__ import annotations

import signal
import subprocess
import time

import docker

from lab.labels import SESSION_ID
from lab.stack import Stack
from tests.support.stacks import RUNNING, new_stack

STOP_BOUND = 2.0


def test_docker_stop_ends_each_server_with_status_0_within_2_s_and_down_leaves_nothing(
    docker_lab: None,
) -> None:
    stack: Stack = new_stack()
    with stack:
        RUNNING.append(stack)
        try:
            for service in ("chat", "exec", "upload", "gateway"):
                container = stack.container(service)
                started = time.monotonic()
                container.stop(timeout=10)  # SIGTERM, then SIGKILL only after 10 s
                took = time.monotonic() - started
                container.reload()
                state = container.attrs["State"]
                assert state["ExitCode"] == 0 and not state["OOMKilled"], (service, state)
                assert took < STOP_BOUND, f"{service} took {took:.2f} s to stop"
            logs = stack.compose.logs(["chat"])
            assert "event=signal signal=SIGTERM" in logs and "event=stopped" in logs
            assert stack.leftovers(), "the stopped containers are still listed before down"
        finally:
            RUNNING.remove(stack)
    assert stack.leftovers() == []
    client = docker.from_env()
    try:
        project = f"com.docker.compose.project={stack.project}"
        assert client.containers.list(all=True, filters={"label": project}) == []
        assert client.networks.list(filters={"label": project}) == []
        assert client.volumes.list(filters={"label": project}) == []
        session = f"org.netlab.session={SESSION_ID}"
        mine = client.containers.list(all=True, filters={"label": [project, session]})
        assert mine == []
    finally:
        client.close()


BANNER_BOUND = 30.0


def test_compose_up_in_the_foreground_shows_how_to_connect_and_ctrl_c_stops_cleanly(
    docker_lab: None,
) -> None:
    stack: Stack = new_stack()
    RUNNING.append(stack)
    try:
        command = stack.compose.command("up", "--no-build")
        started = time.monotonic()
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=stack.compose.environment(),
                              text=True) as proc:
            assert proc.stdout is not None
            seen = []
            for line in proc.stdout:
                seen.append(line)
                if "Stop the lab with Ctrl-C" in line:
                    break
            took = time.monotonic() - started
            output = "".join(seen)
            assert "netlab lab is up" in output, output
            assert took < BANNER_BOUND, f"the banner took {took:.1f} s"
            chat_port = stack.env["NETLAB_CHAT_PORT"]
            assert f"netlab chat client --host 127.0.0.1 --port {chat_port}" in output
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            proc.communicate(timeout=60)
        for service in ("chat", "exec", "upload", "gateway"):
            state = stack.container(service).attrs["State"]
            assert state["Status"] == "exited" and state["ExitCode"] == 0, (service, state)
    finally:
        RUNNING.remove(stack)
        stack.down()
    assert stack.leftovers() == []
