"""The tutorial's exec client with TCP_NODELAY: fast, and then stuck.

Usage: python3 nodelay_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a command to run it on the server; `exit`, or the end of the input (Ctrl-D), to leave.

The obvious cure for the 40 ms wait after an empty result: turn Nagle's
algorithm off, so that every write leaves at once. It does leave at once,
and that is the trouble: `ok` and the next command now arrive a few
microseconds apart, usually before the server has read the `ok`, and its one
recv() for the ack returns both (`oktrue`). The server took the command for
part of the ack and waits for a command; the client waits for the command's
length. Neither moves again. The 40 ms wait was what kept the two writes
apart: this client shows why the exercise's answer must be something else.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # every write leaves at once
client.connect((HOST, PORT))
while True:
    try:
        command = input(">>> ").strip()
    except EOFError:
        break
    if not command:
        continue
    if command == "exit":
        break
    client.send(command.encode("utf-8"))
    size = int(client.recv(1024).decode())
    client.send(b"ok")
    result = b""
    while len(result) < size:
        chunk = client.recv(1024)
        if not chunk:
            break
        result += chunk
    print(result.decode("utf-8"), end="")
client.close()
