"""Find and run the code blocks of README.md and docs/ (docs are code).

Conventions, stated in CONTRIBUTING.md ("Docs are code"). A block's fence info string is
its language, then words the harness reads, so nothing a user pastes carries
a test marker:

* ```` ```sh ```` runs in the unit tier; ```` ```sh docker ```` only in the
  docker tier (```` ```sh docker scenarios ````, the whole scenario catalogue,
  once, by ``tests/integration/test_scenarios.py``, and ```` ```sh docker
  bench ```` by ``tests/integration/test_bench.py``, each checking its
  results); ```` ```sh ci ```` is the one test command, which ``.ci/run``
  runs (a test checks that it does). ```` ```sh install ```` is the local
  install: it reaches PyPI, so one test runs it for real once
  (``tests/test_docs.py``); every other block gets its result (see below).
  Other fences (``text``, ``console``) are not run.
* ```` ```sh server ```` is a server a user starts "in a second terminal". It
  runs in the background while each following block of its section runs (up
  to the next heading or the next server block): the harness waits until
  127.0.0.1:PORT accepts (``--port PORT`` on its last line), runs the block,
  checks the server is still running, sends it SIGTERM and requires exit
  status 0 (graceful shutdown). Its lines run as written: a server block that
  needs the virtual environment activates it itself, as a new terminal must.
* ```` ```python ```` is a complete program, run as ``python3 FILE`` in the
  same environment as a ``sh`` block (``python docker``: in the docker tier).
  ```` ```python PATH ```` shows the file PATH of the project verbatim; a
  test checks it is identical, and the file has tests of its own.
* ``sh`` blocks run under POSIX ``sh`` (dash here, not bash) with ``set -eu``,
  from a copy of the project, with stdin at EOF, in the terminal the README's
  install section leaves: ``. .venv/bin/activate`` has been run there, and
  that is the only help with PATH. The copy's ``.venv`` is a link to the
  project's own virtual environment, because creating one per block would
  need the network; the PATH the tests run under loses this environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
PORT = re.compile(r"--port[ =](\d+)")
ACTIVATE = ". .venv/bin/activate"
PROGRAM = ".docblock.py"
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
BLOCK_TIMEOUT = 240


@dataclass(frozen=True)
class Block:
    """One fenced code block of a document, with the servers its section started."""

    path: Path
    line: int
    kind: str  # the fence info string: "sh", "sh docker", "python", "python PATH"...
    body: str
    servers: tuple[Block, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def language(self) -> str:
        return self.kind.split()[0] if self.kind else ""

    @property
    def lines(self) -> tuple[str, ...]:
        """The commands: non-blank lines that are not comments."""
        return tuple(
            line for line in self.body.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    @property
    def port(self) -> int | None:
        """The port a server block listens on (``--port`` on its last command)."""
        found = PORT.search(self.lines[-1]) if self.lines else None
        return int(found.group(1)) if found else None


def documents() -> list[Path]:
    """README.md, CONTRIBUTING.md and every Markdown file under docs/."""
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]


def all_blocks() -> list[Block]:
    """Every fenced block of the documents, each with the servers in force where it stands."""
    found = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        headings = [m.start() for m in HEADING.finditer(text)]
        servers: list[Block] = []
        section = -1
        for match in FENCE.finditer(text):
            here = sum(1 for start in headings if start < match.start())
            if here != section:
                section, servers = here, []
            kind = " ".join(match.group("info").split())
            block = Block(path, text.count("\n", 0, match.start()) + 1, kind,
                          match.group("body"), tuple(servers))
            if kind == "sh server":
                servers = [block]
            found.append(block)
    return found


def blocks(kind: str) -> list[Block]:
    """Every block whose fence info string is ``kind``."""
    return [block for block in all_blocks() if block.kind == kind]


def included_files() -> list[Block]:
    """The ```` ```python PATH ```` blocks: files of the project shown verbatim."""
    return [b for b in all_blocks() if b.language == "python" and len(b.kind.split()) == 2
            and b.kind.split()[1] not in ("docker",)]


def to_script(block: Block) -> str:
    """The ``sh`` script that runs ``block`` (an ``sh`` or ``python`` block)."""
    prelude = f"set -eu\n{ACTIVATE}\n"
    if block.language == "python":
        return f"{prelude}python3 {PROGRAM}\n"
    return prelude + block.body


def server_script(block: Block) -> str:
    """A server block: its lines in order, the last one becoming the script's process.

    The shell runs the lines before the last (a block may prepare the
    server's terminal first), then runs the last one with ``exec env``
    (so ``VAR=value command`` works too): SIGTERM reaches the server itself,
    with no shell in between whose trap could miss it.
    """
    *setup, last = block.lines
    return "\n".join(["set -eu", *setup, f"exec env {last}", ""])


def copy_project(dest: Path) -> Path:
    """A copy of the tracked files (and uncommitted edits), with the project's venv as .venv."""
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
    if VENV.is_dir():
        (dest / ".venv").symlink_to(VENV)
    return dest


def user_env() -> dict[str, str]:
    """The environment of a user's shell: no NETLAB_ settings, no active venv on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NETLAB_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    venv_bins = {str(VENV / "bin"), str(VENV.resolve() / "bin")}
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p not in venv_bins]
    env["PATH"] = os.pathsep.join(path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServerFailed(AssertionError):
    """A server block that did not start, stopped early, or did not exit 0 on SIGTERM."""


@contextmanager
def running_server(block: Block, workdir: Path) -> Iterator[None]:
    """Run server ``block`` in the background for the duration of the ``with``."""
    if block.port is not None and _accepts(block.port):
        # Else the wait below would take another program for this server.
        raise ServerFailed(f"{block.id}: port {block.port} is taken on 127.0.0.1; free it")
    log = workdir / f".server-{block.line}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["sh", "-c", server_script(block)], cwd=workdir, env=user_env(),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # so that the group can be killed whatever happens
        )
    try:
        if block.port is not None:
            _wait_for_port(block, process, log)
        yield
        if process.poll() is not None:
            raise ServerFailed(f"{block.id} exited early ({process.returncode})\n{_tail(log)}")
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(STOP_TIMEOUT)
            if status < 0:  # killed by signal N: a shell would say 128 + N
                status = 128 - status
        except subprocess.TimeoutExpired:
            raise ServerFailed(f"{block.id} ignored SIGTERM\n{_tail(log)}") from None
        if status != 0:
            raise ServerFailed(f"{block.id} exited {status} on SIGTERM\n{_tail(log)}")
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_block(block: Block, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``block`` in ``workdir`` while the servers of its section run."""
    if block.language == "python":
        (workdir / PROGRAM).write_text(block.body, encoding="utf-8")
    with ExitStack() as servers:
        for server in block.servers:
            servers.enter_context(running_server(server, workdir))
        return subprocess.run(
            ["sh", "-c", to_script(block)], cwd=workdir, env=user_env(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
        )


def _wait_for_port(block: Block, process: subprocess.Popen[bytes], log: Path) -> None:
    # A server process has no event to wait on from outside: poll its port.
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{block.id} exited ({process.returncode})\n{_tail(log)}")
        if _accepts(block.port or 0):
            return
        time.sleep(0.05)
    raise ServerFailed(f"{block.id}: nothing accepts on port {block.port}\n{_tail(log)}")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]
