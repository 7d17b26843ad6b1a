"""The line reverser in the tutorial's style, written for netlab: one recv() is one message.

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

Each recv(1024) is taken as one line: stripped, reversed and sent back.
Typed by hand, one line at a time, it works: each line arrives in a segment
of its own. When two lines arrive in one segment, it answers them as one
line, reversed across both; when a line arrives in pieces, it answers each
piece.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"line reverser on {HOST}:{PORT}", flush=True)

while True:
    conn, address = server.accept()
    while True:
        data = conn.recv(1024)
        if not data:
            break
        line = data.decode("utf-8").strip()
        conn.sendall((line[::-1] + "\n").encode("utf-8"))
    conn.close()
