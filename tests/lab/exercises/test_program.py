"""The learner's program as a process: input in, output watched, killed whole, unprivileged."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import trio

from lab.exercises import program as program_module
from lab.exercises.program import NOBODY, LearnerProgram, _Capture, start_program
from tests.support.waiting import wait_for


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory under /tmp that nobody may enter (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="lab-program-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


ECHO_LINES = """\
import sys
print("ready")
for line in sys.stdin:
    print("got", line.strip())
print("bye")
"""


def start(path: Path, args: list[str],
          workdir: Path) -> AbstractAsyncContextManager[LearnerProgram]:
    return start_program(path, args, workdir=workdir, unprivileged=False)


def gone(pid: int) -> bool:
    """No such process, or a zombie waiting for its parent (init) to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_lines_go_in_and_output_is_seen_as_it_is_printed(tmp_path: Path) -> None:
    path = write(tmp_path, "echo.py", ECHO_LINES)
    async with start(path, ["127.0.0.1", "9"], tmp_path / "w") as prog:
        assert await prog.wait_output("ready", 10)
        assert await prog.send_line("first")
        assert await prog.wait_output("got first", 5)
        mark = len(prog.output)
        assert not await prog.wait_output("got first", 0.1, after=mark)
        await prog.close_stdin()
        assert await prog.wait_exit(5) == 0
        assert prog.output.endswith("bye\n")
        assert not prog.alive
        assert not await prog.send_line("too late")


async def test_arguments_cwd_and_stderr(tmp_path: Path) -> None:
    path = write(tmp_path, "args.py", "import os, sys\nprint(sys.argv[1:], os.getcwd())\n"
                                      "sys.exit('it went wrong')\n")
    workdir = tmp_path / "work"
    async with start(path, ["127.0.0.1", "8123"], workdir) as prog:
        assert await prog.wait_exit(10) == 1
        await trio.sleep(0.1)
        assert f"['127.0.0.1', '8123'] {workdir}" in prog.output
        assert prog.stderr_tail() == "it went wrong"


async def test_wait_output_gives_up_when_the_program_exits(tmp_path: Path) -> None:
    path = write(tmp_path, "quiet.py", "print('nothing to see')\n")
    async with start(path, [], tmp_path / "w") as prog:
        with trio.fail_after(5):
            assert not await prog.wait_output("never printed", 30)


async def test_wait_exit_is_none_while_it_runs(tmp_path: Path) -> None:
    path = write(tmp_path, "sleepy.py", "import time\ntime.sleep(60)\n")
    async with start(path, [], tmp_path / "w") as prog:
        assert await prog.wait_exit(0.2) is None
        assert prog.alive


async def test_the_whole_process_group_is_killed_at_the_end(tmp_path: Path) -> None:
    path = write(tmp_path, "parent.py",
                 "import subprocess, sys, time\n"
                 "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                 "print('child', child.pid, flush=True)\ntime.sleep(60)\n")
    async with start(path, [], tmp_path / "w") as prog:
        assert await prog.wait_output("\n", 10)
        child = int(prog.output.split()[1])
        assert not gone(child)
    await wait_for(lambda: gone(child))


async def test_output_is_kept_up_to_its_limit(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(program_module, "OUTPUT_LIMIT", 1000)
    path = write(tmp_path, "loud.py", "print('x' * 5000)\n")
    async with start(path, [], tmp_path / "w") as prog:
        await prog.wait_exit(10)
        await wait_for(lambda: prog._stdout.closed)
        assert prog.output == "x" * 1000
        assert prog._stdout.dropped == 4001


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
async def test_as_root_the_program_runs_as_nobody_in_a_workdir_of_its_own(
    shared_tmp: Path,
) -> None:
    tmp_path = shared_tmp
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    path = write(private, "who.py", "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
                                    "open('made-here', 'w').write('ok')\n")
    path.chmod(0o600)  # the copy it runs is readable; the original need not be
    workdir = tmp_path / "run" / "work"
    async with start_program(path, [], workdir=workdir, unprivileged=True) as prog:
        assert await prog.wait_exit(10) == 0, prog.stderr
        await trio.sleep(0.1)
    assert prog.output.strip() == f"{NOBODY} {NOBODY} []"
    assert (workdir / "made-here").read_text() == "ok"


async def test_a_capture_wakes_its_waiters_and_counts_what_it_drops() -> None:
    capture = _Capture(4)
    woken = []

    async def waiter() -> None:
        await capture.changed()
        woken.append(bytes(capture.data))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        capture.feed(b"abcdef")
    assert woken == [b"abcd"]
    assert capture.dropped == 2
    capture.close()
    assert capture.closed and capture.text() == "abcd"
