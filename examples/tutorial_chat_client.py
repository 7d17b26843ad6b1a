"""The tutorial's chat client: each line typed is one send, then one recv(1024).

Usage: python3 examples/tutorial_chat_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type `exit`, or end the input (Ctrl-D), to leave.
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
    # One recv is not one message: it may hold several, or wait until someone speaks.
    reply = client.recv(1024)
    if not reply:
        print("the server closed the connection")
        break
    print(reply.decode("utf-8"), end="")
client.close()
