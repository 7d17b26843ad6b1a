"""The first server of a socket tutorial, written for netlab: it works once.

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

It accepts one client, reads once, sends that back and exits. Try it with
two messages, or two clients: the second message is never echoed and the
second client is refused. Exercise 1 asks you to find out why and fix it.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"waiting for a client on {HOST}:{PORT}", flush=True)

conn, address = server.accept()
print("connected:", address, flush=True)
data = conn.recv(1024)
conn.send(data)
conn.close()
server.close()
