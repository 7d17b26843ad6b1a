"""A line chat server in the tutorial's blocking style: a thread per client, no timeouts.

Usage: python3 exercises/08-disconnects/tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

Every line a client sends (text ending in a newline) goes to every connected
client, the sender included: alone, a client gets its own lines back.

What goes wrong (exercise 8, docs/exercises/08-disconnects.md):
* a client that resets (RST) makes recv() raise ConnectionResetError; nothing
  catches it, so its thread dies and leaves the dead socket in `clients`; the
  next broadcast raises in the thread of whoever speaks, and that client dies too;
* a client that vanishes without a FIN or a RST (a network cut) is waited for
  forever: nothing ever tells recv() that the peer is gone.
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
        for conn in clients:
            conn.sendall(line)


def serve(conn):
    with lock:
        clients.append(conn)
    buffer = b""
    while True:
        data = conn.recv(1024)  # blocks for as long as the peer says nothing
        if not data:  # b"": the client closed (FIN)
            break
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            broadcast(line + b"\n")
    with lock:
        clients.remove(conn)
    conn.close()


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"chat server on {HOST}:{PORT}", flush=True)
while True:
    conn, address = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
