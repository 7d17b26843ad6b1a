"""The tutorial's upload client, written for netlab: one recv() for the reply.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type the path of a file to upload it; `exit`, or the end of the input (Ctrl-D), to leave.

It sends `NAME|SIZE`, then the file's bytes in 1024-byte pieces, then reads
the server's reply with one recv() and prints `NAME: stored` if it is
`true`. The upload itself is right. The reply is not read right: one recv()
returns whatever has arrived, and `true` can arrive as `t`, then `rue`.
"""

import os
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
while True:
    try:
        path = input("file to upload: ").strip()
    except EOFError:
        break
    if not path:
        continue
    if path == "exit":
        break
    name = os.path.basename(path)
    size = os.stat(path).st_size
    client.sendall(f"{name}|{size}".encode("utf-8"))  # no delimiter before the data
    with open(path, "rb") as file:
        while chunk := file.read(1024):
            client.sendall(chunk)
    reply = client.recv(1024)
    print(f"{name}: stored" if reply == b"true" else f"{name}: refused ({reply!r})")
client.close()
