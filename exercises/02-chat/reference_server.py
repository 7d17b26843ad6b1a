"""A group chat server: every line a client sends goes to every other client, many at once.

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

The protocol: a client sends lines of UTF-8 text, each ended by a newline;
every other client connected at that moment receives it as one line,
`[HOST:PORT] TEXT`, naming the sender's address.

Each client gets a thread of its own, blocked in its own recv(), so every
client is served at once: accept() never waits for a client to leave. The
list of connected clients is shared by those threads, so a lock guards it.
A client that leaves, or whose connection breaks (a reset, a send that
fails), is taken off the list, and the others go on.

Sending to the others happens under the lock, so two lines never interleave;
the price is that a client that stops reading can, once its socket buffer
is full, stall everyone (exercise 9 comes back to that).
"""

import contextlib
import socket
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

clients = []
clients_lock = threading.Lock()


def broadcast(sender, line):
    """Send ``line`` to every client but ``sender``; drop those whose connection fails."""
    with clients_lock:
        for other in list(clients):
            if other is sender:
                continue
            try:
                other.sendall(line)
            except OSError:  # it left or was reset: its own thread will see it too
                clients.remove(other)


def serve_client(conn, address):
    name = f"{address[0]}:{address[1]}"
    with clients_lock:
        clients.append(conn)
    print(f"{name} joined ({len(clients)} connected)", flush=True)
    try:
        # makefile() buffers what recv() returns and cuts it at each newline:
        # one readline() is one whole message, however TCP split or glued it.
        with conn.makefile("rb") as lines:
            for line in lines:
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                if text:
                    broadcast(conn, f"[{name}] {text}\n".encode("utf-8"))
    except OSError as error:  # a reset: the client is gone
        print(f"{name} lost: {error}", flush=True)
    finally:
        with clients_lock:
            if conn in clients:
                clients.remove(conn)
        conn.close()
        print(f"{name} left", flush=True)


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen()
    print(f"group chat on {HOST}:{PORT}", flush=True)
    with server:
        while True:
            conn, address = server.accept()
            # One thread per client: this loop goes straight back to accept().
            threading.Thread(target=serve_client, args=(conn, address), daemon=True).start()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
