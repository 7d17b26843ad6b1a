"""lab bench --profile: the server's process found under its container's init, py-spy
recording it, and the usage error without py-spy."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from lab.bench import cli as bench_cli
from lab.bench.pyspy import (
    CLOCK_TICKS,
    CpuAccount,
    Recorder,
    cpu_account,
    find_pyspy,
    server_pid,
)
from lab.errors import BenchError


def fake_proc(root: Path, processes: dict[int, tuple[int, str]]) -> Path:
    """A /proc with ``pid -> (ppid, command line)``."""
    for pid, (ppid, cmdline) in processes.items():
        folder = root / str(pid)
        folder.mkdir(parents=True)
        # COMM with a space and a parenthesis, as the kernel allows.
        (folder / "stat").write_text(f"{pid} (a b) c) S {ppid} 1 1 0\n")
        (folder / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode() + b"\0")
    (root / "self").mkdir()
    return root


def test_the_server_is_the_python_descendant_that_serves(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {
        100: (1, "/sbin/docker-init -- netlab upload serve"),
        101: (100, "/opt/netlab/bin/python3 /opt/netlab/bin/netlab upload serve"),
        102: (101, "/opt/netlab/bin/python3 -c pass"),
        200: (1, "/sbin/docker-init -- sleep 1"),
        201: (200, "sleep 1"),
        300: (1, "/usr/bin/python3.11 -m services.chat serve"),  # a server as PID 1, no init
    })
    assert server_pid(100, proc=proc) == 101  # not the init, whose line holds " serve" too
    assert server_pid(300, proc=proc) == 300
    with pytest.raises(BenchError, match="no Python process with 'serve'"):
        server_pid(200, proc=proc)
    with pytest.raises(BenchError, match="needs the Docker engine on this machine"):
        server_pid(999, proc=proc)


def test_the_cpu_account_counts_ended_threads_cpu_and_live_threads_waits(
        tmp_path: Path) -> None:
    def account(utime: int, stime: int, waits: dict[int, int]) -> CpuAccount:
        folder = tmp_path / str(utime)
        folder.mkdir()
        (folder / "stat").write_text(f"7 (py thon) S 1 7 7 0 -1 0 0 0 0 0 {utime} {stime} 0 0\n")
        for tid, ns in waits.items():
            (folder / "task" / str(tid)).mkdir(parents=True)
            (folder / "task" / str(tid) / "schedstat").write_text(f"999 {ns} 4\n")
        return cpu_account(utime, proc=tmp_path)

    before = account(100, 50, {7: 1_000_000_000, 8: 500_000_000})
    assert before.cpu_seconds == 150 / CLOCK_TICKS
    after = account(300, 100, {7: 1_250_000_000, 9: 250_000_000})  # 8 ended, 9 began
    cpu, waited = after.since(before)
    assert cpu == pytest.approx(250 / CLOCK_TICKS)
    assert waited == pytest.approx(0.5)
    assert cpu_account(12345, proc=tmp_path) == CpuAccount(0.0, {})
    assert cpu_account(os.getpid()).waits  # this process: at least its own thread


def test_py_spy_is_found_beside_this_python(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert find_pyspy() is None
    beside = tmp_path / "py-spy"
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    assert find_pyspy() == str(beside)


def test_profile_without_py_spy_is_a_usage_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_cli, "find_pyspy", lambda: None)
    result = CliRunner().invoke(bench_cli.cli, ["upload", "--profile", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "--profile needs py-spy" in result.output and "netlab[profile]" in result.output


@dataclass
class FakeContainer:
    """What the recorder asks of a docker SDK container: ``State.Pid`` after ``reload``."""

    pid: int
    name: str = "upload"
    attrs: dict[str, Any] = field(default_factory=dict)

    def reload(self) -> None:
        self.attrs = {"State": {"Pid": self.pid}}


HASHING = """
import hashlib, sys, time
def digest(block):
    return hashlib.sha256(block).digest()
def serve():
    block, end = b"x" * (1 << 20), time.monotonic() + 30
    while time.monotonic() < end:
        digest(block)
        time.sleep(0.002)
serve()
"""

can_trace = pytest.mark.skipif(find_pyspy() is None or os.geteuid() != 0,
                               reason="needs py-spy (the test extra) and root to trace")


@pytest.fixture
def process(request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    """The command line ``request.param`` running for the test."""
    started = subprocess.Popen(request.param)
    yield started
    started.kill()
    started.wait()


# " serve" in the command line, as netlab's servers have it.
@can_trace
@pytest.mark.parametrize("process", [[sys.executable, "-c", HASHING, "serve"]], indirect=True)
async def test_a_recording_of_a_python_process_names_its_functions(
        tmp_path: Path, process: subprocess.Popen[bytes]) -> None:
    executable = find_pyspy()
    assert executable is not None
    recorder = Recorder(tmp_path / "profiles", executable=executable, rate=100)
    for _ in range(2):
        async with recorder.record(FakeContainer(process.pid), "upload", "netlab-1GiB"):
            await trio.sleep(1.0)
    profile = recorder.profiles["upload"]["netlab-1GiB"]
    assert profile.recordings == 2 and profile.samples > 0
    assert profile.seconds >= 2.0
    assert 0 < profile.cpu_seconds < profile.seconds  # it hashes, then sleeps a little
    functions = {row.frame for row in profile.inclusive(top=50)}
    assert "digest (<string>)" in functions
    written = recorder.write("upload")
    assert [p.name for p in written] == ["upload-netlab-1GiB.txt", "upload-summary.md"]
    assert "digest (<string>:4)" in written[0].read_text()
    assert "## upload-netlab-1GiB" in written[1].read_text()


@pytest.fixture
def not_python(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A shell named ``python-sh`` serving: what the recorder looks for, but not Python."""
    shell = tmp_path / "python-sh"
    shell.symlink_to("/bin/sh")
    started = subprocess.Popen([str(shell), "-c", "sleep 30", "serve"])
    yield started
    started.kill()
    started.wait()


@can_trace
async def test_a_process_that_cannot_be_traced_is_a_bench_error(
        tmp_path: Path, not_python: subprocess.Popen[bytes]) -> None:
    recorder = Recorder(tmp_path, executable=find_pyspy() or "py-spy")
    with pytest.raises(BenchError, match=r"py-spy .*python version") as raised:
        async with recorder.record(FakeContainer(not_python.pid, name="shell"), "exec", "x"):
            await trio.sleep(2.0)
    assert "backtrace" not in str(raised.value)
    assert recorder.profiles == {}
