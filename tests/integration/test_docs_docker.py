"""Every ```sh docker and ```python docker block of README.md and docs/ runs (the docker tier's
share of docs-as-code).

Each block runs as written, from a copy of the project, under the same rules
as the unit tier's blocks (``tests/support/docblocks.py``). The harness adds only what
keeps it apart from other stacks: a unique compose project name
(``COMPOSE_PROJECT_NAME``). Whatever the block
leaves running is taken down afterwards, by project label. The learner ports
are the defaults the docs show (8000-8002), so they must be free.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.readiness import port_accepts
from lab.stack import Stack, unique_project
from tests.support.docblocks import (
    BLOCK_TIMEOUT,
    ROOT,
    Block,
    blocks,
    copy_project,
    run_block,
    to_script,
)
from tests.support.stacks import RUNNING

DEFAULT_PORTS = (8000, 8001, 8002, 8474)
DOCKER_BLOCKS = blocks("sh docker") + blocks("python docker")


def test_the_docs_have_docker_blocks() -> None:
    assert DOCKER_BLOCKS, "README.md should show the docker quick start in ```sh docker blocks"


@pytest.mark.timeout(BLOCK_TIMEOUT + 120)
@pytest.mark.parametrize("block", DOCKER_BLOCKS, ids=lambda b: b.id)
def test_docker_block_runs(block: Block, tmp_path: Path, docker_lab: None,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    busy = [port for port in DEFAULT_PORTS if _accepts(port)]
    assert not busy, f"the docs' learner ports {busy} are taken on 127.0.0.1; free them"
    project = copy_project(tmp_path / "project")
    wheelhouse = ROOT / ".cache" / "wheelhouse"
    if wheelhouse.is_dir():  # saves a download; scripts/build-images would make the same
        shutil.copytree(wheelhouse, project / ".cache" / "wheelhouse")
    name = unique_project("netlab-docs")
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", name)
    # Its teardown, and the logs on failure, go through the same Stack code.
    stack = Stack(project=name, file=project / "compose.yaml", profiles=("clients",))
    RUNNING.append(stack)
    try:
        result = run_block(block, project)
        assert result.returncode == 0, (
            f"{block.id} failed ({result.returncode})\n--- script\n{to_script(block)}"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    finally:
        RUNNING.remove(stack)
        stack.down()
    assert stack.leftovers() == []


def _accepts(port: int) -> bool:
    try:
        return port_accepts("127.0.0.1", port, timeout=0.5)
    except OSError:
        return False

