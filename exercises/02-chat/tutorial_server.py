"""A group chat in the tutorial's blocking style, written for netlab: one client at a time.

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

It is the tutorial's one-to-one server grown into a room: accept a client,
then recv() from it and pass each message on to the other clients, until it
leaves; only then accept the next. With one client that looks fine. With
two, the second waits in the listen backlog, never accepted, while the
server sits in recv() for the first: nobody ever hears anybody.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"chat server on {HOST}:{PORT}", flush=True)

clients = []
while True:
    conn, address = server.accept()
    print("connected:", address, flush=True)
    clients.append(conn)
    while True:
        data = conn.recv(1024)
        if not data:
            break
        print(address, data.decode("utf-8"), flush=True)
        for other in clients:
            if other is not conn:
                other.sendall(data)
    clients.remove(conn)
    conn.close()
