"""The tutorial's remote exec client, written for netlab: one recv() for the length.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a command to run it on the server; `exit`, or the end of the input (Ctrl-D), to leave.

Send the command, read the result's length with one recv(), send `ok`, then
read until that many bytes have come. The result loop is right: it keeps
reading. The length is not: one recv() returns whatever has arrived, and
when the digits arrive in pieces (`1`, then `2` of `12`), the client takes
the first piece for the whole length.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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
