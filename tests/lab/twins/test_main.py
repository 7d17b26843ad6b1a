"""Each twin runs as ``python -m lab.twins.NAME`` from the environment and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from lab.twins import BREAKS, COMPOSE_OVERRIDE

LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


@pytest.mark.parametrize("service", ["chat", "exec", "upload"])
async def test_sigterm_stops_the_twin_with_status_zero_even_with_a_client_connected(
    service: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "NETLAB_HOST": "127.0.0.1", "NETLAB_PORT": "0",
           "NETLAB_ROOT": str(tmp_path / "uploads")}
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", f"lab.twins.{service}"], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    assert process.stderr is not None
    log = b""
    try:
        with trio.fail_after(10):
            while not (match := LISTENING.search(log)):
                chunk = await process.stderr.receive_some(4096)
                assert chunk, log.decode()
                log += chunk
        async with await trio.open_tcp_stream("127.0.0.1", int(match.group(1))):
            await trio.sleep(0.1)  # its thread now blocks in recv
            process.send_signal(signal.SIGTERM)
            with trio.fail_after(10):
                status = await process.wait()
        assert status == 0, log.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stderr.aclose()


def test_every_twin_names_the_invariants_it_breaks() -> None:
    assert BREAKS == {
        "chat": ("chat.delivery",),
        "exec": ("exec.intact", "exec.no-leftovers"),
        "upload": ("upload.complete-or-absent",),
    }


def test_the_compose_override_runs_each_twin_with_a_healthcheck_without_stats() -> None:
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load(COMPOSE_OVERRIDE.read_text(encoding="utf-8"))["services"]
    for name in ("chat", "exec", "upload"):
        service = services[name]
        assert [*service["entrypoint"], *service["command"]] == [
            "python", "-m", f"lab.twins.{name}"
        ]
        assert service["healthcheck"]["test"][:3] == ["CMD", "env", "-u"]
        assert "NETLAB_STATS_PORT" in service["healthcheck"]["test"]
