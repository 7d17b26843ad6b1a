"""The broken twins in the lab: the compose override puts them behind the gateway.

A stack of its own (host ports 18000-18002, proxy port 18474, so it never
meets the session stack), started with ``lab/twins/compose.twins.yaml``:
each twin is healthy without a stats port, serves netlab's client library
through the gateway, and stops with status 0 on ``docker stop``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import trio

from lab.stack import Stack
from lab.twins import COMPOSE_OVERRIDE
from services.chat.client import ChatClient, open_chat
from services.chat.events import Message
from services.remote_exec.client import open_exec
from services.upload.client import open_upload
from tests.support.stacks import RUNNING

HOST = "127.0.0.1"
PORTS = {"chat": 18000, "exec": 18001, "upload": 18002}
ENV = {f"NETLAB_{service.upper()}_PORT": str(port) for service, port in PORTS.items()}
TOKEN = os.environ.get("NETLAB_EXEC_TOKEN", "netlab-lab")
STOP_BOUND = 2.0
# Every process's command line in a container (its image has no ps).
PROCESSES = r"for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline; echo; done 2>/dev/null"


@pytest.fixture(scope="module")
def twins(docker_lab: None) -> Iterator[Stack]:
    with Stack(env={**ENV, "NETLAB_PROXY_PORT": "18474"},
               extra_files=(COMPOSE_OVERRIDE,)) as stack:
        RUNNING.append(stack)
        try:
            yield stack
        finally:
            RUNNING.remove(stack)


async def first_message(client: ChatClient) -> Message:
    with trio.fail_after(10):
        while not isinstance(event := await client.next_event(), Message):
            pass
    return event


def test_each_server_container_runs_its_twin(twins: Stack) -> None:
    for service in PORTS:
        config = twins.container(service).attrs["Config"]
        assert [*config["Entrypoint"], *config["Cmd"]] == ["python", "-m", f"lab.twins.{service}"]
    assert twins.exec("exec", "id", "-u", check=True).stdout.strip() == "10001"


async def test_each_twin_answers_netlab_s_clients_through_the_gateway(twins: Stack) -> None:
    async with open_chat(HOST, PORTS["chat"], nick="bob") as bob, \
            open_chat(HOST, PORTS["chat"], nick="alice") as alice:
        await alice.say("hello twin")
        assert await first_message(bob) == Message("lobby", "alice", "hello twin")
    async with open_exec(HOST, PORTS["exec"], token=TOKEN) as ex:
        result = await ex.run("echo hi")
    assert (result.stdout, result.status) == (b"hi\n", 0)
    async with open_upload(HOST, PORTS["upload"]) as up:
        stored = await up.put(b"stored by the twin", name="twin.txt")
        assert stored.name == "twin.txt"
        assert [f.name for f in await up.list()] == ["twin.txt"]


async def test_the_exec_twin_hangs_on_big_output_and_leaves_the_command_running(
    twins: Stack,
) -> None:
    command = f"head -c {200 * 1024} /dev/zero"
    async with open_exec(HOST, PORTS["exec"], token=TOKEN) as ex:
        with trio.move_on_after(3) as waited:
            await ex.run(command)
    assert waited.cancelled_caught
    listing = twins.exec("exec", "sh", "-c", PROCESSES, check=True).stdout
    assert f"sh -c {command}" in listing, listing


def test_docker_stop_ends_each_twin_with_status_0(twins: Stack) -> None:
    # Last in this module: the twins are gone afterwards.
    for service in PORTS:
        container = twins.container(service)
        started = time.monotonic()
        container.stop(timeout=10)
        took = time.monotonic() - started
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, (service, container.attrs["State"])
        assert took < STOP_BOUND, f"{service} twin took {took:.2f} s to stop"
