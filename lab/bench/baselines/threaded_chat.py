"""Baseline: a broadcast chat as tutorials write it, a thread per client.

Blocking sockets, one thread per client, one lock around the list of
clients. A client's first line is its nickname; every later line goes to
every other client that has given one, as ``NICK: LINE``. Sending happens
under the lock, so a client that stops reading stalls everyone: that is the
model's price, and the bench's loads read everything they are sent. As in
tutorials, Nagle's algorithm stays on (no ``TCP_NODELAY``): a line sent
while the previous one is unacknowledged waits for its ACK, which the
client may delay up to 40 ms; that shows in the latency's tail.

Run: ``python -m lab.bench.baselines.threaded_chat --port 9000``. ``serve``
runs the same server on a given listening socket (tests, port 0).
"""

from __future__ import annotations

import argparse
import socket
import threading
from contextlib import suppress

BACKLOG = 1024


class ThreadedChat:
    """The clients that gave a nickname, and the lock around them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[socket.socket, str] = {}

    def serve(self, listener: socket.socket) -> None:
        """Accept forever, one thread per client (until ``listener`` is closed)."""
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()

    def client(self, conn: socket.socket) -> None:
        lines = conn.makefile("rb")
        try:
            nick = lines.readline().strip()
            if not nick:
                return
            prefix = nick + b": "
            with self.lock:
                self.clients[conn] = nick.decode(errors="replace")
            for line in lines:
                self.broadcast(conn, prefix + line)
        except OSError:
            pass
        finally:
            with self.lock:
                self.clients.pop(conn, None)
            lines.close()
            conn.close()

    def broadcast(self, sender: socket.socket, data: bytes) -> None:
        with self.lock:
            for other in self.clients:
                if other is not sender:
                    with suppress(OSError):  # its own thread notices, and removes it
                        other.sendall(data)


def listen(port: int, host: str = "0.0.0.0") -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(BACKLOG)
    return listener


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args()
    ThreadedChat().serve(listen(args.port, args.host))


if __name__ == "__main__":
    main()
