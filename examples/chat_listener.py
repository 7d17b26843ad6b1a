"""A chat client that only listens: it never sends a byte, and prints what arrives.

Usage: python3 examples/chat_listener.py [HOST [PORT]] (default 127.0.0.1 8000).
Ctrl-C to leave.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

with socket.create_connection((HOST, PORT)) as listener:
    while True:
        data = listener.recv(1024)
        if not data:
            break
        print(data.decode("utf-8", errors="replace"), end="", flush=True)
