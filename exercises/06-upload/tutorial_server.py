"""The tutorial's upload server, written for netlab: it stores files, until something goes wrong.

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).
Files land in the directory it runs in. Ctrl-C stops it.

The protocol: the client sends `NAME|SIZE`, then SIZE bytes, and waits for
`true`; several files may follow on one connection. This server reads the
header with one recv(1024), opens NAME and writes what comes until SIZE
bytes have, then answers `true`. Three habits of the tutorial break it:

* one recv() is taken for the whole header: when the file's first bytes
  arrive in the same recv(), they are parsed as part of SIZE;
* NAME is used as a path: `../x` lands outside the directory;
* the file is written under its final name from the first byte on: a client
  cut off half way leaves half a file that looks like a whole one.

Exercise 6 asks you to find each one with `lab check` and fix it.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"upload server on {HOST}:{PORT}", flush=True)

while True:
    conn, address = server.accept()
    print("connected:", address, flush=True)
    while True:
        header = conn.recv(1024)
        if not header:
            break
        name, size = header.decode("utf-8").split("|")
        size = int(size)
        received = 0
        with open(name, "wb") as file:
            while received < size:
                data = conn.recv(1024)
                if not data:
                    break
                file.write(data)
                received += len(data)
        print(f"{name}: {received} of {size} bytes", flush=True)
        if received < size:
            break
        conn.send(b"true")
    conn.close()
