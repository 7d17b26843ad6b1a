"""The stdlib exec server netlab's exec is measured against: ``socketserver``, a thread per client.

``python -m lab.bench.baselines.threaded_exec --port 9000 --mode framed|classic``

What a careful learner writes with the standard library alone: a
``socketserver.ThreadingTCPServer``, one thread per client, blocking calls.
Each command runs as ``/bin/sh -c COMMAND`` with ``subprocess.Popen`` and
its pipes are read *while* it runs (stdout by the client's thread, stderr
by a second thread), so a large output never fills a pipe and hangs, which
is the tutorial server's bug. ``TCP_NODELAY`` is on, as in any
request/response server (netlab's Trio sockets have it too). There is
nothing else: no sandbox, no time or output limit, no concurrency limit,
no queue, no cancel; the command runs as the server's own uid.

``--mode framed`` speaks netlab's exec protocol (``docs/reference/protocol/exec.md``):
the preface, then RUN (its token checked against ``--token`` or
``NETLAB_EXEC_TOKEN``; a wrong one gets the fatal ERROR ``auth-failed``),
STARTED, STDOUT/STDERR frames as the command writes, EXIT. STDIN, STDIN_EOF
and CANCEL frames are read between commands and ignored (the command's
stdin is ``/dev/null``). ``--mode classic`` is the tutorial's exchange:
one ``recv`` is the command, then the result's length in ASCII digits, one
``recv`` of anything (the ``ok``), the result (stdout if the status is 0,
else stderr).

Resource handling: each command runs in its own session; if its client
goes away mid-command (a send fails) the group is killed and reaped before
the handler returns. socketserver closes each client's socket when its
handler returns; handler threads are daemon threads.

Error handling: a client that breaks the framing gets a fatal ERROR
``bad-message`` (framed) and is dropped; a socket error ends that client
only, logged as one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from lab.twins.frames import BadFrame, FrameSocket

HEADER = struct.Struct(">BI")
PREFACE = b"\x00netlab/1 exec\n"
RUN, STARTED, STDOUT, STDERR, EXIT, ERROR = 0x01, 0x11, 0x12, 0x13, 0x14, 0x15
MAX_FRAME = 1 << 20  # what netlab's clients send at most
READ_SIZE = 256 * 1024  # pipe reads (a pipe holds 64 KiB unless enlarged)
RECV_SIZE = 256 * 1024
CLASSIC_RECV = 1024  # the tutorial's recv size
# STARTED announces limits; this server has none, so it announces a day and a TiB.
ANNOUNCED_TIMEOUT = 86400.0
ANNOUNCED_OUTPUT_LIMIT = 1 << 40
TOKEN_ENV = "NETLAB_EXEC_TOKEN"

Sink = Callable[[int, bytes], None]


def run_command(command: str | bytes, sink: Sink,
                on_started: Callable[[int], None] | None = None) -> int:
    """Run ``command`` with the shell, handing each chunk to ``sink(STDOUT|STDERR, data)``.

    Stdout is read in this thread, stderr in a helper thread, both while the
    command runs; ``sink`` may be called from either thread. Returns the
    returncode (negative: killed by that signal). If ``sink`` raises (the
    client left), the command's group is killed and the error propagates.
    """
    with subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                          start_new_session=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        failure: list[BaseException] = []
        stdout, stderr = proc.stdout, proc.stderr

        def pump_stderr() -> None:
            try:
                while data := stderr.read(READ_SIZE):
                    sink(STDERR, data)
            except BaseException as exc:  # handed to the client's thread
                failure.append(exc)
                _kill_group(proc)

        # STARTED goes out before any output: the stderr pump starts after it.
        if on_started is not None:
            try:
                on_started(proc.pid)
            except BaseException:
                _kill_group(proc)
                raise
        helper = threading.Thread(target=pump_stderr, daemon=True)
        helper.start()
        try:
            while data := stdout.read(READ_SIZE):
                sink(STDOUT, data)
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            helper.join()
        if failure:
            raise failure[0]
        return proc.wait()


def run_collecting(command: str | bytes) -> tuple[int, bytes, bytes]:
    """Run ``command`` to its end: its returncode, stdout and stderr (read as they come)."""
    output = {STDOUT: bytearray(), STDERR: bytearray()}

    def sink(kind: int, data: bytes) -> None:
        output[kind] += data  # each stream is only ever read by one thread

    returncode = run_command(command, sink)
    return returncode, bytes(output[STDOUT]), bytes(output[STDERR])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class FramedHandler(socketserver.BaseRequestHandler):
    """One netlab client: RUN after RUN, each streamed to its EXIT."""

    server: ThreadedExecServer

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.frames = FrameSocket(self.request, recv_size=RECV_SIZE, max_frame=MAX_FRAME)
        self.send_lock = threading.Lock()  # stdout and stderr threads both send

    def handle(self) -> None:
        try:
            if self.frames.read_exact(len(PREFACE)) != PREFACE:
                return
            while (frame := self.frames.read_frame()) is not None:
                kind, payload = frame
                if kind != RUN:
                    continue  # STDIN, STDIN_EOF, CANCEL: not supported, dropped
                run = json.loads(payload)
                if not isinstance(run, dict):
                    raise BadFrame("RUN is not a JSON object")
                if not hmac.compare_digest(str(run.get("token", "")).encode(),
                                           self.server.token.encode()):
                    self.send_json(ERROR, {"code": "auth-failed",
                                           "message": "wrong or missing token", "fatal": True})
                    return
                self.run(str(run.get("command", "")))
        except (BadFrame, ValueError) as exc:
            self.send_json(ERROR, {"code": "bad-message", "message": str(exc), "fatal": True})

    def run(self, command: str) -> None:
        began = time.monotonic()
        counts = {STDOUT: 0, STDERR: 0}

        def started(pid: int) -> None:
            self.send_json(STARTED, {"pid": pid, "timeout": ANNOUNCED_TIMEOUT,
                                     "output_limit": ANNOUNCED_OUTPUT_LIMIT})

        def sink(kind: int, data: bytes) -> None:
            counts[kind] += len(data)
            self.send(kind, data)

        returncode = run_command(command, sink, started)
        how: dict[str, Any]
        if returncode < 0:
            how = {"status": None, "signal": signal.Signals(-returncode).name, "reason": "signal"}
        else:
            how = {"status": returncode, "signal": None, "reason": "exit"}
        self.send_json(EXIT, {**how, "elapsed": round(time.monotonic() - began, 6),
                              "stdout_bytes": counts[STDOUT], "stderr_bytes": counts[STDERR]})

    def send(self, kind: int, payload: bytes) -> None:
        with self.send_lock:
            self.request.sendall(HEADER.pack(kind, len(payload)) + payload)

    def send_json(self, kind: int, obj: dict[str, Any]) -> None:
        self.send(kind, json.dumps(obj, separators=(",", ":")).encode())


class ClassicHandler(socketserver.BaseRequestHandler):
    """One tutorial client: command, length, ack, result; again."""

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        conn = self.request
        while command := conn.recv(CLASSIC_RECV):
            returncode, stdout, stderr = run_collecting(command)
            result = stdout if returncode == 0 else stderr
            conn.sendall(str(len(result)).encode("ascii"))
            if not conn.recv(CLASSIC_RECV):  # the client's "ok"
                return
            conn.sendall(result)


class ThreadedExecServer(socketserver.ThreadingTCPServer):
    """A thread per client; ``token`` is what framed RUNs must carry."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], mode: str, *, token: str = "") -> None:
        self.token = token
        self.mode = mode
        super().__init__(address, FramedHandler if mode == "framed" else ClassicHandler)

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def handle_error(self, request: Any, client_address: Any) -> None:
        print(f"threaded exec: client {client_address}: {sys.exc_info()[1]!r}",
              file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--mode", choices=("framed", "classic"), default="framed")
    parser.add_argument("--token", default=os.environ.get(TOKEN_ENV, "netlab-lab"))
    args = parser.parse_args(argv)
    server = ThreadedExecServer((args.host, args.port), args.mode, token=args.token)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever(): never call it from serve_forever's thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    print(f"threaded exec ({args.mode}): listening on {args.host}:{server.port}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
