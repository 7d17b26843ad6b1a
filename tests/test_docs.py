"""Every command in README.md and docs/ runs (the unit tier's share)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.docblocks import (
    ACTIVATE,
    BLOCK_TIMEOUT,
    ROOT,
    Block,
    ServerFailed,
    all_blocks,
    blocks,
    copy_project,
    included_files,
    run_block,
    to_script,
    user_env,
)
from tests.support.ports import free_port

RUNNABLE = blocks("sh") + blocks("python")
KNOWN_KINDS = {"", "sh", "sh docker", "sh docker scenarios", "sh docker bench", "sh ci",
               "sh install", "sh server", "python", "python docker", "text", "console"}


@pytest.mark.timeout(BLOCK_TIMEOUT + 60)
@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_block_runs(block: Block, tmp_path: Path) -> None:
    result = run_block(block, copy_project(tmp_path / "project"))
    assert result.returncode == 0, (
        f"{block.id} failed ({result.returncode})\n--- script\n{to_script(block)}"
        f"--- block\n{block.body}"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


@pytest.mark.parametrize("block", included_files(), ids=lambda b: b.id)
def test_included_file_is_shown_verbatim(block: Block) -> None:
    path = ROOT / block.kind.split()[1]
    assert path.read_text(encoding="utf-8") == block.body


def test_every_fence_is_a_known_kind() -> None:
    unknown = [(b.id, b.kind) for b in all_blocks()
               if b.kind not in KNOWN_KINDS and b not in included_files()]
    assert unknown == []


def test_every_server_block_serves_a_block_after_it() -> None:
    served = {server for block in all_blocks() for server in block.servers}
    assert set(blocks("sh server")) <= served


def test_the_install_block_activates_the_venv_the_harness_assumes() -> None:
    (install,) = blocks("sh install")
    assert install.path.name == "README.md"
    assert install.lines[-1] == ACTIVATE


def test_no_bash_only_syntax_in_sh_blocks() -> None:
    bashisms = ("/dev/tcp", "[[", "<<<", "$'", "function ", "pipefail")
    offending = [(b.id, s) for b in all_blocks() if b.language == "sh"
                 for s in bashisms if s in b.body]
    assert offending == []


def test_ci_runs_the_readme_test_command() -> None:
    (ci_block,) = blocks("sh ci")
    (command,) = ci_block.lines
    ci_lines = [
        line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert f"exec {command}" in ci_lines or command in ci_lines


def _block(kind: str, body: str, servers: tuple[Block, ...] = ()) -> Block:
    return Block(ROOT / "README.md", 0, kind, body, servers)


def test_a_server_that_dies_of_sigterm_fails_its_block(tmp_path: Path) -> None:
    server = _block("sh server", "sleep 30\n")
    with pytest.raises(ServerFailed, match=r"exited -?143 on SIGTERM"):
        run_block(_block("sh", "true\n", (server,)), tmp_path)


def test_a_server_that_stops_before_its_port_accepts_fails_its_block(tmp_path: Path) -> None:
    server = _block("sh server", f"true --port {free_port()}\n")
    with pytest.raises(ServerFailed, match=r"exited \(0\)"):
        run_block(_block("sh", "true\n", (server,)), tmp_path)


GRACEFUL_SERVER = (
    "python3 -c 'import signal, socket, sys; s = socket.create_server((\"127.0.0.1\", "
    "int(sys.argv[2]))); signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()'"
)


def test_a_server_is_up_on_its_port_before_its_block_runs(tmp_path: Path) -> None:
    port = free_port()
    server = _block("sh server", f"{GRACEFUL_SERVER} --port {port}\n")
    probe = f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))'\n"
    result = run_block(_block("sh", probe, (server,)), copy_project(tmp_path / "p"))
    assert result.returncode == 0, result.stderr


def test_a_failing_line_fails_its_block(tmp_path: Path) -> None:
    assert run_block(_block("sh", "true\nfalse\ntrue\n"), tmp_path).returncode != 0


def test_sh_blocks_run_under_a_posix_shell_not_bash(tmp_path: Path) -> None:
    result = run_block(_block("sh", 'test -z "${BASH_VERSION:-}"\n'), copy_project(tmp_path))
    assert result.returncode == 0, result.stderr


def test_python_blocks_run_as_programs(tmp_path: Path) -> None:
    body = "import sys\nprint('ran', sys.argv[0])\n"
    result = run_block(_block("python", body), copy_project(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ran ")


@pytest.mark.timeout(900)
def test_the_install_block_installs_netlab_as_written(tmp_path: Path) -> None:
    """The one block the others stand on, run for real once: a fresh venv from PyPI."""
    (install,) = blocks("sh install")
    project = copy_project(tmp_path / "project")
    (project / ".venv").unlink()  # the harness's shortcut; this test makes the real one
    script = f"set -eu\n{install.body}command -v netlab\nnetlab --version\n"
    result = subprocess.run(["sh", "-c", script], cwd=project, env=user_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=840)
    assert result.returncode == 0, result.stderr[-4000:]
    where, version = result.stdout.strip().splitlines()[-2:]
    assert Path(where) == project / ".venv" / "bin" / "netlab"
    assert "version" in version
