"""A client of the line reverser in the tutorial's style, written for netlab: one recv(), one reply.

Usage: python3 tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a line to have it reversed; `exit`, or the end of the input (Ctrl-D), to leave.

Each line goes out with its newline; then one recv(1024) is printed as the
reply. When the reply arrives in pieces, the client prints the first piece
as if it were the whole reply, and the rest comes out of the next recv(),
as the reply to the next line.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((HOST, PORT))
while True:
    try:
        line = input(">>> ").strip()
    except EOFError:
        break
    if line == "exit":
        break
    client.sendall((line + "\n").encode("utf-8"))
    reply = client.recv(1024)
    if not reply:
        print("the server closed the connection")
        break
    print(reply.decode("utf-8").strip())
client.close()
