"""The tutorial's remote exec client, written for netlab: fine, but slow for empty results.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a command to run it on the server; `exit`, or the end of the input (Ctrl-D), to leave.

Send the command, read the result's length, send `ok`, read that many bytes.
Time it: `echo x` comes back in about a millisecond, `true` in about 40. For
an empty result the client's `ok` and its next command are two small writes
in a row, and nothing comes back in between: TCP's Nagle algorithm holds the
second write until the first is acknowledged, and the server, having nothing
to send, delays its acknowledgement (about 40 ms on Linux). Exercise 5 asks
you to measure it and get out of it without breaking the exchange.
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
    client.send(b"ok")  # with an empty result, the next command follows this at once
    result = b""
    while len(result) < size:
        chunk = client.recv(1024)
        if not chunk:
            break
        result += chunk
    print(result.decode("utf-8"), end="")
client.close()
