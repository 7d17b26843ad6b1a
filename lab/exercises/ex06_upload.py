"""Exercise 6, upload: the tutorial's upload protocol, stored whole or not at all, in its place.

The protocol (classic upload): the client sends ``NAME|SIZE`` (UTF-8 name,
``|``, ASCII decimal size), then SIZE bytes, with no delimiter after the
header; the server answers ``true`` once the file is stored (``false``:
refused). Several files may follow on one connection.

Server checks (netlab is the client; the learner's server stores into its
work directory): a file stored byte for byte; a header that arrives glued
to the file's first bytes (which start with a letter: a file starting with
a digit glued to its header cannot be read right by anyone, see the doc); a
name that climbs out of the directory (``../``) must not land outside it; a
client cut off half way leaves nothing under the file's name (write to a
temporary name, rename when whole); several files on one connection.

When a check sends a header "alone", it waits until the server has read it
before the data (the server's directory changes when it opens the file: a
tutorial-style server opens it at once), or :data:`HEADER_WAIT` at most, so
that the header and the data do not arrive together by accident.

Client checks (netlab's upload server, in-process, classic mode, on the
exercise port): the check types each file's full path (the files lie in a
folder of its own, which the client may read); they arrive intact and the
client prints ``NAME: stored``; the same when the reply ``true`` arrives in pieces (the
fault proxy slices what the server sends).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import trio

from lab.exercises.context import CheckContext
from lab.exercises.model import Check, Exercise, Expectation, Outcome
from lab.exercises.program import LearnerProgram
from lab.proxy.toxics import Slicer

FOLDER = "exercises/06-upload"
REPLY_WAIT = 3.0  # a small file stored on loopback takes milliseconds
HEADER_WAIT = 0.5
CUT_WAIT = 1.0  # the server sees the cut client's FIN long before this
POLL = 0.02
EXIT_WAIT = 0.3  # a server that crashed on what it read is gone by then
REPLIES = (b"true", b"false")
LETTERS = b"abcdefghijklmnopqrstuvwxyz"


def _token(ctx: CheckContext) -> str:
    return f"{ctx.random.randrange(10000, 99999)}"


def _data(ctx: CheckContext, size: int) -> bytes:
    """Random bytes (not text) that start with a letter, so a SIZE cannot run into them."""
    return bytes([ctx.random.choice(LETTERS)]) + ctx.random.randbytes(size - 1)


def _complete(got: bytes) -> bool:
    return got in REPLIES or not any(word.startswith(got) for word in REPLIES)


async def _reply(ctx: CheckContext, stream: trio.SocketStream) -> bytes:
    """The server's answer: ``true``, ``false``, or what came before it stopped making sense."""
    return await ctx.recv_until(stream, _complete, REPLY_WAIT)


def _entries(directory: Path) -> set[str]:
    try:
        return set(os.listdir(directory))
    except OSError:
        return set()


async def _header_alone(stream: trio.SocketStream, header: bytes, workdir: Path) -> None:
    """Send ``header``, then wait until the server has read it (or :data:`HEADER_WAIT`)."""
    before = _entries(workdir)
    await stream.send_all(header)
    with trio.move_on_after(HEADER_WAIT):
        while _entries(workdir) == before:  # noqa: ASYNC110 - a directory, polled
            await trio.sleep(POLL)


async def _send_file(ctx: CheckContext, stream: trio.SocketStream, workdir: Path, name: str,
                     data: bytes) -> bytes:
    """One upload, the tutorial client's way (header alone, then the bytes): the reply."""
    await _header_alone(stream, f"{name}|{len(data)}".encode(), workdir)
    await stream.send_all(data)
    return await _reply(ctx, stream)


def _stored(workdir: Path, name: str, data: bytes) -> str:
    """Empty if ``workdir/name`` holds ``data``; else what is wrong."""
    path = workdir / name
    if not path.is_file():
        others = sorted(_entries(workdir))
        return f"no file {name!r} in the server's directory (it holds {others[:5]})"
    stored = path.read_bytes()
    if stored != data:
        same = next((i for i, (a, b) in enumerate(zip(stored, data, strict=False)) if a != b),
                    min(len(stored), len(data)))
        return (f"{name!r} holds {len(stored)} bytes, not the {len(data)} sent; they differ "
                f"from byte {same} on")
    return ""


async def _with_stderr(program: LearnerProgram, text: str) -> str:
    """``text``, and whether the server has exited (a crash closes the connection) and why."""
    await program.wait_exit(EXIT_WAIT)
    tail = program.stderr_tail(2)
    state = "" if program.alive else f"; the server exited ({program.returncode})"
    return text + state + (f"; its stderr: {tail}" if tail else "")


# The learner's server ---------------------------------------------------------------------


async def stores_a_file(ctx: CheckContext) -> Outcome:
    name, data = f"photo-{_token(ctx)}.bin", _data(ctx, 100_000)
    async with ctx.server_program() as program, await ctx.connect() as stream:
        reply = await _send_file(ctx, stream, program.workdir, name, data)
        if reply != b"true":
            return Outcome(False, await _with_stderr(
                program, f"sent {name}|{len(data)} alone, then {len(data)} bytes; the reply "
                f"was {reply!r}, not b'true'"))
        wrong = _stored(program.workdir, name, data)
    if wrong:
        return Outcome(False, f"the reply was b'true' but {wrong}")
    return Outcome(True, f"{name}: {len(data)} bytes (not text) stored byte for byte, "
                   "answered b'true'")


async def header_glued_to_data(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    name = f"notes-{token}.txt"
    data = (f"lines|with bars and digits {token} 12|34\n" * 12).encode()
    message = f"{name}|{len(data)}".encode() + data
    async with ctx.server_program() as program, await ctx.connect() as stream:
        await stream.send_all(message)  # header and data in one send: one segment
        reply = await _reply(ctx, stream)
        shown = f"sent {message[:45]!r}... ({len(message)} bytes) in one send"
        if reply != b"true":
            return Outcome(False, await _with_stderr(program, f"{shown}; the reply was {reply!r}"))
        wrong = _stored(program.workdir, name, data)
    if wrong:
        return Outcome(False, f"{shown}; the reply was b'true' but {wrong}")
    return Outcome(True, f"{shown}: header read up to the end of its digits, the "
                   f"{len(data)} bytes after them stored, answered b'true'")


async def path_traversal(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    outside = Path(tempfile.gettempdir()) / f"netlab-escape-{token}"
    data = _data(ctx, 300)
    async with ctx.server_program() as program:
        name = os.path.relpath(outside, program.workdir)  # noqa: ASYNC240 - no I/O
        try:
            async with await ctx.connect() as stream:
                reply = await _send_file(ctx, stream, program.workdir, name, data)
            await trio.sleep(0.1)
            escaped = outside.exists()
        finally:
            _remove(outside)
        inside = sorted(_entries(program.workdir))
    sent = f"sent the name {name!r}"
    if escaped:
        return Outcome(False, f"{sent}; the reply was {reply!r} and the file was written to "
                       f"{outside}, outside the server's directory")
    where = f"it stored {inside}" if inside else "nothing was stored"
    return Outcome(True, f"{sent}; the reply was {reply!r}, nothing landed outside the "
                   f"server's directory ({where} inside)")


def _remove(path: Path) -> None:
    # Absent, or not ours to remove (the grading container is thrown away).
    with contextlib.suppress(OSError):
        path.unlink()


async def partial_upload(ctx: CheckContext) -> Outcome:
    name, data = f"backup-{_token(ctx)}.tar", _data(ctx, 200_000)
    half = len(data) // 2
    async with ctx.server_program() as program:
        async with await ctx.connect() as stream:
            await _header_alone(stream, f"{name}|{len(data)}".encode(), program.workdir)
            await stream.send_all(data[:half])
            await stream.send_eof()  # the client is cut off half way: FIN, nothing more
            await ctx.recv_until(stream, lambda _: False, CUT_WAIT)  # until the server closes
        path = program.workdir / name
        with trio.move_on_after(CUT_WAIT):
            while not path.exists() and program.alive:  # noqa: ASYNC110 - a file, polled
                await trio.sleep(POLL)
            await trio.sleep(0.1)
        if path.exists():
            size = path.stat().st_size
            return Outcome(False, f"declared {len(data)} bytes, sent {half} and closed: "
                           f"{name!r} is there with {size} bytes, a partial file under the "
                           "final name that looks like a whole one")
        left = sorted(_entries(program.workdir))
    return Outcome(True, f"declared {len(data)} bytes, sent {half} and closed: no {name!r} in "
                   f"the server's directory (it holds {left})")


async def several_files(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    files = [(f"part-{n}-{token}.dat", _data(ctx, size))
             for n, size in enumerate((5_000, 70_000, 1_000), 1)]
    async with ctx.server_program() as program, await ctx.connect() as stream:
        for number, (name, data) in enumerate(files, 1):
            reply = await _send_file(ctx, stream, program.workdir, name, data)
            if reply != b"true":
                return Outcome(False, await _with_stderr(
                    program, f"file {number} of {len(files)} on one connection ({name}, "
                    f"{len(data)} bytes): the reply was {reply!r}"))
        wrong = [problem for name, data in files
                 if (problem := _stored(program.workdir, name, data))]
    if wrong:
        return Outcome(False, f"{len(files)} files on one connection, each answered b'true', "
                       f"but {wrong[0]}")
    return Outcome(True, f"{len(files)} files on one connection, each answered b'true' and "
                   "stored byte for byte")


# The learner's client ---------------------------------------------------------------------


async def _client_uploads(ctx: CheckContext, files: list[tuple[str, bytes]],
                          *, sliced: bool = False) -> Outcome:
    root = ctx.scratch / "uploads"
    # The files to upload, where the client (perhaps another user) may read them.
    shelf = ctx.scratch / "to-upload"
    shelf.mkdir()
    shelf.chmod(0o755)
    for name, data in files:
        (shelf / name).write_bytes(data)
        (shelf / name).chmod(0o644)
    async with ctx.reference_server("upload", root=root) as upstream:
        toxics = (Slicer(name="slicer", stream="downstream", average_size=1, delay=20),)
        async with ctx.proxy(upstream, *(toxics if sliced else ()), listen_port=ctx.port), \
                ctx.client_program() as program:
            for number, (name, data) in enumerate(files, 1):
                typed = str(shelf / name)
                await program.send_line(typed)
                if not await program.wait_output(f"{name}: stored", REPLY_WAIT):
                    printed = program.output[-160:]
                    arrived = _stored(root, name, data)
                    fate = ("the server stored it whole" if not arrived
                            else f"on the server: {arrived}")
                    tail = program.stderr_tail(2)
                    return Outcome(False, f"typed {typed!r} (file {number} of {len(files)}, "
                                   f"{len(data)} bytes): {fate}; the client printed "
                                   f"{printed!r}, not '{name}: stored'"
                                   + (f"; its stderr: {tail}" if tail else ""))
            wrong = [problem for name, data in files if (problem := _stored(root, name, data))]
    if wrong:
        return Outcome(False, f"the client printed 'stored' for each file, but {wrong[0]}")
    return Outcome(True, f"{len(files)} files typed, each stored whole on the server and "
                   "reported 'NAME: stored'")


async def uploads_files(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    files = [(f"hello-{token}.txt", f"hello from the client {token}\n".encode()),
             (f"blob-{token}.bin", _data(ctx, 150_000))]
    return await _client_uploads(ctx, files)


async def reply_in_pieces(ctx: CheckContext) -> Outcome:
    token = _token(ctx)
    files = [(f"sliced-{token}.bin", _data(ctx, 20_000))]
    outcome = await _client_uploads(ctx, files, sliced=True)
    prefix = "the server's reply cut into 1-byte pieces 20 ms apart: "
    return Outcome(outcome.passed, prefix + outcome.detail)


EXERCISE = Exercise(
    number=6,
    id="upload",
    title="Upload: a file whole or not at all, and where it belongs",
    doc="docs/exercises/06-upload.md",
    checks=(
        Check("stores-a-file", "server",
              "the classic upload: NAME|SIZE, then SIZE bytes, answered true",
              "read the header, then write exactly SIZE bytes, in as many recv() calls as "
              "they take, as bytes (not text), and answer true",
              stores_a_file),
        Check("header-glued-to-data", "server",
              "TCP is a byte stream: the header and the file's first bytes can arrive in one "
              "recv()",
              "took one recv() for the header: the file's first bytes came in the same recv() "
              "and were parsed as part of SIZE; buffer what you receive, read SIZE up to its "
              "last digit, and count what follows as the file's first bytes",
              header_glued_to_data),
        Check("path-traversal", "server",
              "a name from the network is not a path: check it before you open anything",
              "used NAME as a path: '../' climbs out of the upload directory; accept plain "
              "file names only (os.path.basename(name) == name, not '.' or '..'), else "
              "answer false",
              path_traversal),
        Check("partial-upload", "server",
              "a peer can vanish between any two bytes: store atomically (write elsewhere, "
              "rename when whole)",
              "wrote the file under its final name from the first byte: a client cut off half "
              "way left a partial file that looks whole; write to a temporary name in the "
              "same directory and os.replace() it once SIZE bytes are written (delete it if "
              "the client goes)",
              partial_upload),
        Check("several-files", "server",
              "one connection carries many uploads",
              "after answering true, read the next header on the same connection (the bytes "
              "of one file must not run into the next)",
              several_files),
        Check("uploads-files", "client",
              "the classic upload from the client's side",
              "for each path typed send NAME|SIZE, then the file's bytes, read the reply and "
              "print 'NAME: stored' for true",
              uploads_files),
        Check("reply-in-pieces", "client",
              "one recv() is not one message: a reply can arrive in pieces",
              "took one recv() for the reply: true arrived as t, then r, u, e; read until "
              "you have true or false (or the server closes)",
              reply_in_pieces),
    ),
    expectations=(
        Expectation(f"{FOLDER}/reference_server.py", "server"),
        Expectation(f"{FOLDER}/tutorial_server.py", "server", {
            "header-glued-to-data": "took one recv() for the header",
            "path-traversal": "used NAME as a path",
            "partial-upload": "under its final name",
        }),
        Expectation(f"{FOLDER}/reference_client.py", "client"),
        Expectation(f"{FOLDER}/tutorial_client.py", "client", {
            "reply-in-pieces": "took one recv() for the reply",
        }),
    ),
)
