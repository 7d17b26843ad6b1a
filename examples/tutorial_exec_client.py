"""The tutorial's remote exec client: send a command, read its length, say ok, read the result.

Usage: python3 examples/tutorial_exec_client.py [HOST [PORT]] (default 127.0.0.1 8001).
Type `exit`, or end the input (Ctrl-D), to leave.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8001

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
    client.send(b"ok")  # lets the server send the result without gluing it to the length
    result = b""
    while len(result) < size:
        chunk = client.recv(1024)
        if not chunk:
            break
        result += chunk
    # The tutorial decodes "gbk" (its server ran on Windows); the lab runs Linux and sends UTF-8.
    print(result.decode("utf-8"), end="")
client.close()
