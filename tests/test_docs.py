"""Every command in README.md and docs/ runs (the unit tier's share)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docblocks import (
    BLOCK_TIMEOUT,
    ROOT,
    Block,
    blocks,
    copy_project,
    run_block,
    to_script,
)


@pytest.mark.timeout(BLOCK_TIMEOUT + 30)
@pytest.mark.parametrize("block", blocks("sh"), ids=lambda b: b.id)
def test_shell_block_runs(block: Block, tmp_path: Path) -> None:
    result = run_block(block, copy_project(tmp_path / "project"))
    assert result.returncode == 0, (
        f"{block.id} failed ({result.returncode})\n--- script\n{to_script(block)}"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def test_ci_runs_the_readme_test_command() -> None:
    (ci_block,) = blocks("sh ci")
    (command,) = ci_block.lines
    ci_lines = [
        line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert f"exec {command}" in ci_lines or command in ci_lines


def test_long_running_commands_are_stopped_and_must_exit_zero(tmp_path: Path) -> None:
    block = Block(ROOT / "README.md", 0, "sh", ("sleep 30  # long-running",))
    result = run_block(block, tmp_path)
    # sleep dies of SIGTERM (143): the runner must report it, not pass it.
    assert result.returncode == 98, result.stderr


def test_a_failing_line_fails_its_block(tmp_path: Path) -> None:
    block = Block(ROOT / "README.md", 0, "sh", ("true", "false", "true"))
    assert run_block(block, tmp_path).returncode != 0
