"""A broadcast chat server in the tutorial's blocking style: one lock, one sendall per client.

Usage: python3 exercises/09-backpressure/tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

Every line a client sends (text ending in a newline) goes to every connected
client, the sender included. A thread per client reads its lines; whoever
speaks sends the line to everybody, in turn, with a blocking sendall().

What goes wrong (exercise 9, docs/exercises/09-backpressure.md): a client
that stops reading lets its socket buffers fill, and then sendall() to it
blocks, for ever, holding the lock. Every other thread waits for the lock:
one slow consumer stalls the whole room, and what is meant for it is never
bounded or dropped.
"""

import socket
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

clients = []
lock = threading.Lock()


def broadcast(line):
    with lock:
        for conn in list(clients):
            try:
                conn.sendall(line)  # blocks while this client's buffers are full
            except OSError:
                clients.remove(conn)


def serve(conn):
    with lock:
        clients.append(conn)
    buffer = b""
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                broadcast(line + b"\n")
    except OSError:
        pass
    finally:
        with lock:
            if conn in clients:
                clients.remove(conn)
        conn.close()


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(64)
print(f"chat server on {HOST}:{PORT}", flush=True)
while True:
    conn, address = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
