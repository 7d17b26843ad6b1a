"""A line chat client in the tutorial's blocking style: send a line, print one recv().

Usage: python3 exercises/08-disconnects/tutorial_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type lines; `exit`, or the end of the input (Ctrl-D), to leave.

What goes wrong (exercise 8, docs/exercises/08-disconnects.md): it never
looks at how the connection ended. A server that closes (FIN) makes recv()
return b"", which it prints as nothing and carries on; a server that resets
(RST) makes recv() raise ConnectionResetError, and the program dies with a
traceback. Either way the user is not told, and the exit status says all went well
(or, after a traceback, only that Python crashed).
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
    client.send((message + "\n").encode("utf-8"))
    reply = client.recv(1024)
    print(reply.decode("utf-8"), end="")
client.close()
