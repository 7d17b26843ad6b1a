"""Rough loopback throughput of one upload, by hand (not collected by pytest, not timed in CI).

    .venv/bin/python -m tests.upload.bench_throughput --size-mib 256 --root /dev/shm --rounds 5

Each round sends the same bytes from a separate client process three ways:
a raw TCP socket copy (the ceiling), a stdlib blocking server that hashes and
writes each 256 KiB ``recv`` (the classic design), and ``netlab upload`` (hash,
write, fsync, atomic rename, STORED). It prints GB/s and the ratio to raw. On
a shared machine take the best of several rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import trio

from services.upload.config import UploadConfig
from services.upload.server import UploadServer

RAW_CLIENT = """
import os, socket, sys, time
data = os.urandom(1 << 20) * int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.perf_counter(); view = memoryview(data)
for i in range(0, len(data), 256 * 1024):
    s.sendall(view[i:i + 256 * 1024])
s.shutdown(socket.SHUT_WR); s.recv(1)
print(len(data) / (time.perf_counter() - t0))
"""
UPLOAD_CLIENT = """
import os, sys, time, trio
from services.upload.client import open_upload, prepare
data = os.urandom(1 << 20) * int(sys.argv[2])
async def main():
    item = await prepare(data, name="bench.bin")
    async with open_upload("127.0.0.1", int(sys.argv[1])) as up:
        t0 = time.perf_counter()
        await up.put(item, overwrite=True)
        print(len(data) / (time.perf_counter() - t0))
trio.run(main)
"""


def run_client(code: str, port: int, mib: int) -> float:
    out = subprocess.run([sys.executable, "-c", code, str(port), str(mib)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout)


def blocking_server(mib: int, root: Path, *, hash_and_write: bool) -> float:
    """One connection to a blocking server: discard, or hash + write + fsync."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            hasher = hashlib.sha256()
            with conn, open(root / "blocking.bin", "wb", buffering=0) as out:
                while data := conn.recv(256 * 1024):
                    if hash_and_write:
                        hasher.update(data)
                        out.write(data)
                os.fsync(out.fileno())

        thread = threading.Thread(target=serve)
        thread.start()
        rate = run_client(RAW_CLIENT, port, mib)
        thread.join()
    (root / "blocking.bin").unlink()
    return rate


async def netlab_upload(mib: int, root: Path) -> tuple[float, float]:
    """One upload to an in-process server; returns (bytes/s, server CPU seconds)."""
    server = UploadServer(UploadConfig(root=root / "netlab", overwrite="always"))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(server.run)
        before = resource.getrusage(resource.RUSAGE_SELF)
        rate = await trio.to_thread.run_sync(run_client, UPLOAD_CLIENT, port, mib)
        after = resource.getrusage(resource.RUSAGE_SELF)
        server.lifecycle.request_shutdown("done")
    (root / "netlab" / "bench.bin").unlink()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return rate, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--root", default=tempfile.gettempdir())
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("netlab").setLevel(logging.WARNING)
    gb = args.size_mib * (1 << 20) / 1e9
    with tempfile.TemporaryDirectory(dir=args.root) as tmp:
        root = Path(tmp)
        for _ in range(args.rounds):
            raw = blocking_server(args.size_mib, root, hash_and_write=False)
            classic = blocking_server(args.size_mib, root, hash_and_write=True)
            netlab, cpu = trio.run(netlab_upload, args.size_mib, root)
            print(f"raw {raw / 1e9:.2f} GB/s  blocking hash+write {classic / 1e9:.2f} GB/s  "
                  f"netlab upload {netlab / 1e9:.2f} GB/s  ratio {netlab / raw:.2f}  "
                  f"server CPU {cpu / gb:.2f} s/GB", flush=True)


if __name__ == "__main__":
    main()
