"""The exec twin: a tutorial-style remote exec server that reads the pipes only after ``wait()``.

**Its bug.** The command runs with ``subprocess.Popen(..., shell=True,
stdout=PIPE, stderr=PIPE)``; the server calls ``wait()`` and only then reads
the pipes, with no timeout anywhere. A command writing more than the pipe
buffer (64 KiB on Linux) blocks on its full pipe while the server waits for
it to exit: neither ever moves again. The client gets STARTED and then
nothing, no output, no EXIT, no error; the command stays in the container
after the client has gone, since nobody watches the connection meanwhile.

**The tutorial habit behind it.** The course's exec server does
``res = subprocess.Popen(cmd, shell=True, stdout=PIPE, stderr=PIPE)``,
``res.wait()``, then ``res.stdout.read()``: fine for ``dir``, a hang for
anything bigger.

**The invariants that catch it:** ``exec.intact`` (:data:`BREAKS`: a command
with over 64 KiB of output gets neither its output and EXIT nor an explicit
error within the client's command timeout) and ``exec.no-leftovers``
(:data:`ALSO_BREAKS`: the stuck command is still running afterwards).

Everything else works: netlab clients (``\\0netlab/1 exec\\n`` then frames)
get STARTED, STDOUT, STDERR and EXIT for commands with small output, and a
wrong token (when ``NETLAB_EXEC_TOKEN`` is set) the fatal ``auth-failed``;
the tutorial's own client (no preface) gets its length, ack, result
exchange. There is no sandbox, no time limit and no output limit. Each
command runs in its own session (``start_new_session``), so that whoever
cleans up after the twin (a test, the container's stop) can kill its group.

Run it: ``python -m lab.twins.exec`` (``NETLAB_HOST``, ``NETLAB_PORT``,
``NETLAB_EXEC_TOKEN``).
"""

from __future__ import annotations

import os
import signal
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from lab.twins.frames import BadFrame, FrameSocket, json_object
from lab.twins.serving import TwinServer, address_from_env, serve_until_signalled

BREAKS = "exec.intact"
ALSO_BREAKS = ("exec.no-leftovers",)
RUN, STARTED, STDOUT, STDERR, EXIT, ERROR = 0x01, 0x11, 0x12, 0x13, 0x14, 0x15
# STARTED must announce limits; the twin has none, so it announces a day.
ANNOUNCED_TIMEOUT = 86400.0
ANNOUNCED_OUTPUT_LIMIT = 1 << 40
OUTPUT_FRAME = 256 * 1024


@dataclass(frozen=True)
class Finished:
    """How a command ended and what it wrote, read after it exited."""

    returncode: int
    stdout: bytes
    stderr: bytes
    elapsed: float


def run_command(command: str, on_started: Callable[[int], None] | None = None) -> Finished:
    """Run ``command`` with a shell, the tutorial's way: wait for it, then read its pipes."""
    began = time.monotonic()
    with subprocess.Popen(command, shell=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as proc:
        if on_started is not None:
            on_started(proc.pid)
        returncode = proc.wait()  # THE BUG: a child with a full pipe never exits
        assert proc.stdout is not None and proc.stderr is not None
        stdout = proc.stdout.read()
        stderr = proc.stderr.read()
    return Finished(returncode, stdout, stderr, time.monotonic() - began)


class ExecHandler(socketserver.BaseRequestHandler):
    """One client: netlab frames after a preface, else the tutorial's exchange."""

    server: ExecTwin

    def handle(self) -> None:
        first = self.request.recv(1024)
        if not first:
            return
        if first[0] == 0:
            self.serve_netlab(FrameSocket(self.request, first))
        else:
            self.serve_classic(first)

    def serve_netlab(self, frames: FrameSocket) -> None:
        try:
            if not frames.expect_preface("exec"):
                return
            while (frame := frames.read_frame()) is not None:
                kind, payload = frame
                if kind != RUN:
                    continue  # STDIN, STDIN_EOF, CANCEL: the twin reads none of them
                run = json_object(payload)
                token = self.server.token
                if token and run.get("token") != token:
                    frames.send_json(ERROR, {"code": "auth-failed",
                                             "message": "wrong or missing token", "fatal": True})
                    return
                self.run_netlab(frames, str(run.get("command", "")))
        except BadFrame as exc:
            frames.send_json(ERROR, {"code": "bad-message", "message": str(exc), "fatal": True})

    def run_netlab(self, frames: FrameSocket, command: str) -> None:
        def started(pid: int) -> None:
            frames.send_json(STARTED, {"pid": pid, "timeout": ANNOUNCED_TIMEOUT,
                                       "output_limit": ANNOUNCED_OUTPUT_LIMIT})

        done = run_command(command, started)
        for kind, data in ((STDOUT, done.stdout), (STDERR, done.stderr)):
            for start in range(0, len(data), OUTPUT_FRAME):
                frames.send(kind, data[start:start + OUTPUT_FRAME])
        how: dict[str, object]
        if done.returncode < 0:
            how = {"status": None, "signal": signal.Signals(-done.returncode).name,
                   "reason": "signal"}
        else:
            how = {"status": done.returncode, "signal": None, "reason": "exit"}
        frames.send_json(EXIT, {**how, "elapsed": round(done.elapsed, 6),
                                "stdout_bytes": len(done.stdout),
                                "stderr_bytes": len(done.stderr)})

    def serve_classic(self, data: bytes) -> None:
        conn = self.request
        while data:
            done = run_command(data.decode("utf-8", errors="replace"))
            result = done.stdout if done.returncode == 0 else done.stderr
            conn.sendall(str(len(result)).encode("ascii"))
            if not conn.recv(1024):  # the client's "ok"
                return
            conn.sendall(result)
            data = conn.recv(1024)


class ExecTwin(TwinServer):
    """The exec twin's server; ``token`` (if any) is required in every RUN."""

    name = "exec twin"

    def __init__(self, address: tuple[str, int], *, token: str = "") -> None:
        self.token = token
        super().__init__(address, ExecHandler)


def main() -> int:
    token = os.environ.get("NETLAB_EXEC_TOKEN", "")
    return serve_until_signalled(ExecTwin(address_from_env(), token=token))


if __name__ == "__main__":
    sys.exit(main())
