"""Exercise 5, Nagle: why the tutorial's exec client takes 40 ms for ``true``, 1 ms for ``echo x``.

After an empty result the tutorial's client writes ``ok`` and then, at once,
its next command: two small writes with nothing received in between.
Nagle's algorithm holds the second until the first is acknowledged, and the
server, with nothing to send, delays that acknowledgement (about 40 ms on
Linux). A non-empty result carries the acknowledgement back with it, so
``echo x`` never waits. Turning Nagle off (``TCP_NODELAY``) removes the
wait and exposes what it hid: ``ok`` and the next command then arrive
together, and the server's one ``recv()`` for the ack swallows the command.

Client checks only: the learner's exec client runs 30 commands against
:class:`PlainExecServer`, a blocking classic exec server like the
tutorial's (one client after another, one ``recv(1024)`` for each command
and for each ack, no ``TCP_NODELAY`` and no quick ACKs: netlab's own exec
server acknowledges an ``ok`` as soon as it has read it, which hides the
effect). It answers ``true`` and ``echo`` itself, without a shell, so that
the timings hold only the network's part, and records when each command
arrived and when its answer was complete. It reads each ack
:data:`ACK_PAUSE` after sending the length, as a server busy for a moment
would: a client that sends its next command right behind its ``ok`` then
gets the two glued every time, not only when the scheduler says so (on an
idle machine the race is lost only now and then). The *turnaround* of a command is
the time from the server's complete answer to the arrival of the next
command: the client's own delay, Nagle's included.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram

FOLDER = "exercises/05-nagle"
COMMANDS = 30
FAST = 0.020  # p50 turnaround bound: the delayed ACK is about 40 ms, a fast client well under 1
ACK_PAUSE = 0.005  # the server reads each ack this late, as a busy server might (see below)
STALL = 2.0  # no new command for this long: the client is stuck (or finished early)
POLL = 0.1  # the server thread's socket timeout, so that it notices when to stop
WATCH = 0.02
EXIT_WAIT = 1.0  # how often the check looks at the server's record
CHECK_TIMEOUT = 12.0  # 30 commands at 45 ms each take 1.4 s


@dataclass
class Command:
    """One command as the server saw it: the bytes of its recv(), its ack's, and the times."""

    text: bytes
    arrived: float
    ack: bytes | None = None
    answered: float | None = None  # the whole answer sent (the ack read, the result written)


@dataclass
class Record:
    """Everything :class:`PlainExecServer` saw, shared with the check (under ``lock``)."""

    commands: list[Command] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> tuple[list[Command], int]:
        with self.lock:
            return list(self.commands), self.connections


def answer(command: bytes) -> bytes:
    """What a shell would answer: ``true`` nothing, ``echo ARGS`` ARGS and a newline."""
    text = command.decode("utf-8", errors="replace").strip()
    if text == "true":
        return b""
    if text == "echo" or text.startswith("echo "):
        return (" ".join(text.split()[1:]) + "\n").encode()
    return f"{text}: not run here (this server answers true and echo only)\n".encode()


class PlainExecServer:
    """The tutorial's exec server, blocking, in a thread: one client after another.

    Resource handling: :meth:`close` (or the ``with`` block's end) stops the
    thread within :data:`POLL` seconds and closes every socket it holds.
    """

    def __init__(self, host: str, port: int) -> None:
        self.record = Record()
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(16)
        self._listener.settimeout(POLL)
        self._thread = threading.Thread(target=self._serve, name="plain-exec", daemon=True)

    def __enter__(self) -> PlainExecServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(POLL * 10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.record.lock:
                self.record.connections += 1
            with conn:
                conn.settimeout(POLL)  # a timeout for stopping only: TCP behaves the same
                with contextlib.suppress(OSError):  # that client is gone (a reset)
                    self._serve_client(conn)

    def _recv(self, conn: socket.socket) -> bytes | None:
        """One recv(1024), as the tutorial's server does; None when told to stop."""
        while not self._stop.is_set():
            try:
                return conn.recv(1024)
            except TimeoutError:
                continue
        return None

    def _serve_client(self, conn: socket.socket) -> None:
        while (data := self._recv(conn)):
            command = Command(data, time.monotonic())
            with self.record.lock:
                self.record.commands.append(command)
            result = answer(data)
            conn.sendall(str(len(result)).encode("ascii"))
            time.sleep(ACK_PAUSE)
            ack = self._recv(conn)  # the client's ok: whatever one recv() returns
            command.ack = ack
            if not ack:
                return
            conn.sendall(result)
            command.answered = time.monotonic()


@dataclass(frozen=True)
class Run:
    """What one client run produced: the server's record and the client's output."""

    commands: list[Command]
    connections: int
    output: str
    stderr: str
    expected: list[str]

    @property
    def answered(self) -> int:
        return sum(1 for command in self.commands if command.answered is not None)

    def glued(self) -> Command | None:
        """The first command or ack whose recv() held more (or less) than itself."""
        for command, expected in zip(self.commands, self.expected, strict=False):
            if command.text != expected.encode() or command.ack not in (None, b"ok"):
                return command
        return None

    def turnarounds(self) -> list[float]:
        """Seconds from each complete answer to the arrival of the next command."""
        return [after.arrived - before.answered
                for before, after in zip(self.commands, self.commands[1:], strict=False)
                if before.answered is not None]


async def run_client(ctx: CheckContext, commands: list[str]) -> Run:
    """The learner's client, given ``commands`` then the end of input, against the server."""
    with PlainExecServer(ctx.host, ctx.port) as server:
        async with ctx.client_program() as program:
            for command in commands:
                await program.send_line(command)
            await program.close_stdin()
            await _follow(server.record, program, len(commands))
            await program.wait_exit(EXIT_WAIT)  # its input has ended: the last result printed
            seen, connections = server.record.snapshot()
            return Run(seen, connections, program.output, program.stderr_tail(2), commands)


async def _follow(record: Record, program: LearnerProgram, count: int) -> None:
    """Until every command is answered, an ack is glued, or nothing moves for STALL seconds."""
    progress, changed = -1, trio.current_time()
    while True:
        seen, _ = record.snapshot()
        answered = sum(1 for command in seen if command.answered is not None)
        if answered >= count or any(command.ack not in (None, b"ok") for command in seen):
            return
        now = trio.current_time()
        if answered != progress:
            progress, changed = answered, now
        if now - changed > (STALL if program.alive else WATCH * 10):
            return
        await trio.sleep(WATCH)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _timing(run: Run) -> str:
    gaps = sorted(run.turnarounds())
    if not gaps:
        return "no turnaround measured"
    p90 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.9))]
    return (f"turnaround (server's answer to the next command) p50 "
            f"{_ms(statistics.median(gaps))}, p90 {_ms(p90)}, max {_ms(gaps[-1])}")


def _connections(run: Run) -> str:
    return "1 connection" if run.connections == 1 else f"{run.connections} connections"


def _short(data: bytes | None) -> str:
    return repr(data) if data is None or len(data) <= 40 else f"{data[:30]!r}..."


def _incomplete(run: Run) -> str:
    """Why fewer commands than sent were answered."""
    detail = f"{run.answered} of {len(run.expected)} commands answered"
    glued = run.glued()
    if glued is not None:
        detail += (f"; the server's recv() for a command got {_short(glued.text)} and its "
                   f"recv() for the ack got {_short(glued.ack)}")
    elif run.commands and run.commands[-1].answered is None:
        detail += (f"; the last command, {_short(run.commands[-1].text)}, got its length and "
                   f"then no ack (the server's recv() got {_short(run.commands[-1].ack)})")
    if run.stderr:
        detail += f"; the client's stderr: {run.stderr}"
    return detail


def _p50(run: Run) -> float | None:
    gaps = run.turnarounds()
    return statistics.median(gaps) if gaps else None


async def echo_results(ctx: CheckContext) -> Outcome:
    base = ctx.random.randrange(1000, 9999)
    tokens = [f"nagle-{base}-{n}" for n in range(COMMANDS)]
    run = await run_client(ctx, [f"echo {token}" for token in tokens])
    if run.answered < COMMANDS:
        return Outcome(False, _incomplete(run))
    missing = [token for token in tokens if token not in run.output]
    if missing:
        return Outcome(False, f"{COMMANDS} x 'echo TOKEN' answered, but {len(missing)} results "
                       f"were not printed (first: {missing[0]!r}); the client printed "
                       f"{run.output[-120:]!r}")
    p50 = _p50(run)
    detail = f"{COMMANDS} x 'echo TOKEN', each printed, {_connections(run)}; {_timing(run)}"
    return Outcome(p50 is not None and p50 < FAST, detail)


async def ack_alone(ctx: CheckContext) -> Outcome:
    run = await run_client(ctx, ["true"] * COMMANDS)
    glued = run.glued()
    if glued is not None:
        return Outcome(False, f"command {run.commands.index(glued) + 1}: the server's recv() "
                       f"for the command got {_short(glued.text)}, its recv() for the ack got "
                       f"{_short(glued.ack)}; {run.answered} of {COMMANDS} commands answered")
    if run.answered < COMMANDS:
        return Outcome(False, _incomplete(run))
    return Outcome(True, f"{COMMANDS} x 'true': every command and every ok arrived alone, "
                   f"{_connections(run)}; {_timing(run)}")


async def empty_results_fast(ctx: CheckContext) -> Outcome:
    run = await run_client(ctx, ["true"] * COMMANDS)
    if run.answered < COMMANDS or run.glued() is not None:
        return Outcome(False, _incomplete(run))
    p50 = _p50(run)
    verdict = p50 is not None and p50 < FAST
    return Outcome(verdict, f"{COMMANDS} x 'true' (empty results), {_connections(run)}; "
                   f"{_timing(run)}; the bound is p50 < {_ms(FAST)}")


EXERCISE = Exercise(
    number=5,
    id="nagle",
    title="Nagle and the delayed ACK: 40 ms for nothing",
    doc="docs/exercises/05-nagle.md",
    checks=(
        Check("echo-results", "client",
              "a result on its way back carries the ACK of the client's ok with it",
              "run each command typed the classic way (command, length, ok, result) and print "
              "each result; with a non-empty result nothing should be slow",
              echo_results, timeout=CHECK_TIMEOUT),
        Check("ack-alone", "client",
              "TCP keeps no message boundaries: two writes sent at once can arrive in one "
              "recv()",
              "your ok and your next command arrived in one recv() on the server, which took "
              "both for the ack and then waited for a command that never came: TCP_NODELAY "
              "(or one write for both) sends them together, and the tutorial's server reads "
              "its ack with one recv(); keep them apart (see the exercise's solution outline)",
              ack_alone, timeout=CHECK_TIMEOUT),
        Check("empty-results-fast", "client",
              "Nagle's algorithm and the delayed ACK: a small write waits for the ACK of the "
              "one before it",
              "after an empty result your next command was late (or never came): Nagle's "
              "algorithm held it until the server acknowledged your ok, and the server, having "
              "nothing to send, delayed its ACK about 40 ms; make sure nothing small is "
              "unacknowledged when you send the command (e.g. the ok as the last write of "
              "its connection), without letting ok and command arrive together",
              empty_results_fast, timeout=CHECK_TIMEOUT),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "empty-results-fast": "was late",
        }),
        Expectation(f"{FOLDER}/nodelay_client.py", "client", {
            "ack-alone": "arrived in one recv()",
            "empty-results-fast": "was late",
        }),
    ),
)


def main(argv: list[str]) -> int:
    """``python3 -m lab.exercises.ex05_nagle [HOST [PORT]]``: the checks' server, by hand.

    Serves until Ctrl-C (or SIGTERM), printing each command as it arrives,
    how long after the previous answer it came, and any ack that was not
    ``ok`` alone.
    """
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    port = int(argv[2]) if len(argv) > 2 else 8000
    with PlainExecServer(host, port) as server:
        print(f"plain exec server on {host}:{port} (answers true and echo)", flush=True)
        shown, glued = 0, 0
        try:
            while True:
                time.sleep(WATCH)
                seen, _ = server.record.snapshot()
                for index in range(shown, len(seen)):
                    before = seen[index - 1].answered if index else None
                    after = "" if before is None else (
                        f", {_ms(seen[index].arrived - before)} after the answer before it")
                    print(f"{seen[index].text.decode(errors='replace')!r}{after}", flush=True)
                shown = len(seen)
                bad = [c for c in seen if c.ack not in (None, b"ok", b"")]
                for command in bad[glued:]:
                    print(f"the ack of {command.text.decode(errors='replace')!r} came as "
                          f"{command.ack!r}: the next command arrived with the ok and was "
                          "taken for part of it", flush=True)
                glued = len(bad)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
