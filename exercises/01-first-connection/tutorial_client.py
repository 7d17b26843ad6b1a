"""The first client of a socket tutorial, written for netlab: one message, one reply.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).

It connects, sends the first line typed, prints what one recv() returns and
exits. Every later line is never sent.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
message = input()
client.send(message.encode("utf-8") + b"\n")
reply = client.recv(1024)
print(reply.decode("utf-8"), end="")
client.close()
