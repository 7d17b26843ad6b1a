"""Find and run the shell blocks of README.md and docs/ (docs are code).

Conventions, stated in the README:

* A block fenced ```` ```sh ```` is run by the unit tier; ```` ```sh docker ````
  only by the docker tier; ```` ```sh ci ```` is the one test command, which
  ``.ci/run`` runs (a test checks that it does). Other fences are not run.
* The lines of a block run in order in one bash script (``set -euo
  pipefail``) from a copy of the project, with stdin at EOF.
* A line ending in ``# long-running`` starts in the background. If it names
  ``--port N`` the block waits until 127.0.0.1:N accepts before going on. When
  the block ends the command must still be running; it then gets SIGTERM and
  must exit 0 (graceful shutdown).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
LONG_RUNNING = "# long-running"
PORT = re.compile(r"--port[ =](\d+)")
READY_WAIT_STEPS = 150  # x 0.1 s
BLOCK_TIMEOUT = 240


@dataclass(frozen=True)
class Block:
    """One fenced shell block of a document."""

    path: Path
    line: int
    kind: str  # "sh", "sh docker" or "sh ci"
    lines: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(kind: str) -> list[Block]:
    """Every block of ``kind`` in the documents."""
    found = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group("info").strip() != kind:
                continue
            lines = tuple(
                line for line in match.group("body").splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            )
            found.append(Block(path, text.count("\n", 0, match.start()) + 1, kind, lines))
    return found


def to_script(block: Block) -> str:
    """The bash script that runs ``block`` under the conventions above."""
    out = [
        "set -euo pipefail",
        "bg_pids=()",
        'cleanup() { for p in "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }',
        "trap cleanup EXIT",
    ]
    for line in block.lines:
        if line.rstrip().endswith(LONG_RUNNING):
            command = line.rstrip()[: -len(LONG_RUNNING)].rstrip()
            out.append(f"{command} &")
            out.append("bg_pids+=($!)")
            port = PORT.search(command)
            if port:
                out.append(
                    f"for _ in $(seq {READY_WAIT_STEPS}); do "
                    f"(exec 3<>/dev/tcp/127.0.0.1/{port.group(1)}) 2>/dev/null && break; "
                    "sleep 0.1; done"
                )
        else:
            out.append(line)
    out.append(
        'for p in "${bg_pids[@]}"; do\n'
        '  kill -0 "$p" || { echo "long-running command $p exited early" >&2; exit 97; }\n'
        '  kill -TERM "$p"\n'
        '  status=0; wait "$p" || status=$?\n'
        '  [ "$status" -eq 0 ] || { echo "long-running command $p exited $status on SIGTERM" >&2;'
        " exit 98; }\n"
        "done"
    )
    return "\n".join(out) + "\n"


def copy_project(dest: Path) -> Path:
    """A copy of the tracked files (and uncommitted edits to them) at ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def run_block(block: Block, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``block`` in ``workdir`` with this interpreter's scripts first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETLAB_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        ["bash", "-c", to_script(block)],
        cwd=workdir, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=BLOCK_TIMEOUT,
    )
