"""A line chat server that survives every way a client can leave (exercise 8's solution).

Usage: python3 exercises/08-disconnects/reference_server.py [HOST [PORT]] (default 127.0.0.1 8000).

Every line a client sends (text ending in a newline) goes to every connected
client, the sender included. A client leaves in one of three ways, and each
one ends only its own connection:
* FIN: recv() returns b"" (the client closed, or half-closed, its side);
* RST: recv() or send() raises ConnectionResetError (or BrokenPipeError);
* silence: a client that sends nothing for IDLE_TIMEOUT seconds is dropped,
  because a peer cut off by the network (half-open) never sends a FIN or a RST.
"""

import contextlib
import socket
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
IDLE_TIMEOUT = 5.0  # the exercise's rule: a client silent for longer is gone
MAX_LINE = 64 * 1024  # a "line" longer than this is not one: drop its sender

clients = set()
lock = threading.Lock()


def log(text):
    print(text, file=sys.stderr, flush=True)


def drop(conn):
    """Forget a client; shutdown() also wakes its thread if it is blocked in recv()."""
    clients.discard(conn)
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def broadcast(line):
    with lock:
        for conn in list(clients):
            try:
                # settimeout() below bounds this send too: a client that stops
                # reading holds everyone for at most IDLE_TIMEOUT (exercise 9 does better).
                conn.sendall(line)
            except OSError:  # reset, broken pipe, send timed out: that client only
                drop(conn)


def serve(conn, peer):
    conn.settimeout(IDLE_TIMEOUT)  # every recv() and send() now gives up after that long
    with lock:
        clients.add(conn)
    why = "closed its side (FIN)"
    buffer = b""
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
                why = "sent a line that never ends"
                break
    except TimeoutError:  # socket.timeout: nothing received for IDLE_TIMEOUT seconds
        why = f"silent for {IDLE_TIMEOUT:g} s (gone, or half-open)"
    except ConnectionResetError:
        why = "reset the connection (RST)"
    except OSError as error:  # shut down by drop(), or another transport error
        why = f"connection failed ({error.strerror or error})"
    finally:
        with lock:
            drop(conn)
        conn.close()
        log(f"{peer}: {why}")


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
