"""The tutorial's chat client, written for netlab: type a line, send it, read one reply.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type `exit`, or end the input (Ctrl-D), to leave.

Each line typed goes out with one send(), no newline; then the client blocks
in one recv(1024) and prints what it got. That is the tutorial's one-to-one
conversation: one message, one reply. In a chat room it breaks: nothing is
printed while the client waits at input(), and one recv() shows whatever
happened to arrive, one message or several or a piece of one.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
while True:
    try:
        message = input(">>> ").strip()
    except EOFError:
        break
    if not message:
        continue
    if message == "exit":
        break
    client.send(message.encode("utf-8"))
    reply = client.recv(1024)
    if not reply:
        print("the server closed the connection")
        break
    print(reply.decode("utf-8"), end="")
client.close()
