"""A broadcast chat server where a slow consumer cannot stall the room (exercise 9's solution).

Usage: python3 exercises/09-backpressure/reference_server.py [HOST [PORT]] (default 127.0.0.1 8000).

Every line a client sends (text ending in a newline) goes to every connected
client, the sender included. Each client has two threads and a queue:
* its reader thread reads its lines and puts each one in every client's queue,
  without ever waiting: a queue that is full is not waited for, its client is
  disconnected (it is more than QUEUE_LINES lines behind: a slow consumer);
* its writer thread takes lines from its queue and sendall()s them; if the
  client stops reading, only this thread blocks.
So what the server holds for a client is bounded (QUEUE_LINES lines of at
most MAX_LINE bytes, plus the kernel's socket buffers), and one client that
stops reading costs the others nothing.
"""

import contextlib
import queue
import socket
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
QUEUE_LINES = 1000  # the exercise's rule: a client further behind is disconnected
MAX_LINE = 8 * 1024  # a longer "line" is refused: its sender is disconnected
CLOSE_GRACE = 5.0  # a client that closed gets this long to take the lines queued for it


class Client:
    def __init__(self, conn, peer):
        self.conn = conn
        self.peer = peer
        self.queue = queue.Queue(maxsize=QUEUE_LINES)
        self.why = "closed its side (FIN)"


clients = set()
lock = threading.Lock()


def log(text):
    print(text, file=sys.stderr, flush=True)


def shut(conn):
    """Wake whichever thread is blocked on ``conn``: recv() returns b"", sendall() fails."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def leave(client, why=None):
    """Take ``client`` out of the room (with ``lock`` held); its writer stops after its queue."""
    if client not in clients:
        return
    clients.discard(client)
    if why is not None:
        client.why = why
    try:
        client.queue.put_nowait(None)  # the writer's signal to stop
    except queue.Full:
        shut(client.conn)  # the writer is stuck sending: end it now


def broadcast(line):
    with lock:
        for client in list(clients):
            try:
                client.queue.put_nowait(line)  # never waits for a client
            except queue.Full:
                leave(client, f"more than {QUEUE_LINES} lines behind (a slow consumer)")


def write(client):
    try:
        while (line := client.queue.get()) is not None:
            client.conn.sendall(line)  # blocks only this client's writer
    except OSError:
        with lock:
            leave(client, "could not be written to")
        shut(client.conn)


def serve(conn, peer):
    client = Client(conn, peer)
    writer = threading.Thread(target=write, args=(client,), daemon=True)
    writer.start()
    with lock:
        clients.add(client)
    buffer = b""
    why = None
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                broadcast(line + b"\n")
            if len(buffer) > MAX_LINE:
                why = f"sent a line longer than {MAX_LINE} bytes"
                break
    except ConnectionResetError:
        why = "reset the connection (RST)"
    except OSError as error:  # shut down by the server, or a transport error
        why = f"connection ended ({error.strerror or error})"
    finally:
        with lock:
            leave(client, why)
        writer.join(CLOSE_GRACE)
        shut(conn)
        writer.join()
        conn.close()
        log(f"{peer}: {client.why}")


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(64)
    log(f"chat server on {HOST}:{PORT}")
    with server:
        while True:
            conn, (host, port) = server.accept()
            threading.Thread(target=serve, args=(conn, f"{host}:{port}"), daemon=True).start()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
