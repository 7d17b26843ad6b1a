"""The tutorial's echo server, written for netlab: correct, for one client at a time.

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

It accepts a client and echoes what it sends until it leaves, then accepts
the next. Each call blocks: while recv() waits for the first client, the
second waits in the kernel's queue of connections not yet accepted (its
connect() succeeded, so it believes it is being served) and hears nothing
until the first has gone. Exercise 7 measures that and its cures.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"echo server on {HOST}:{PORT}", flush=True)

while True:
    conn, address = server.accept()
    print("connected:", address, flush=True)
    while True:
        try:
            data = conn.recv(1024)
        except ConnectionError:
            break
        if not data:
            break
        conn.sendall(data)
    conn.close()
