"""The tutorial's remote exec server, written for netlab: it reads the pipes only after wait().

Usage: python3 tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).
It runs any command anyone who can connect sends it: keep it on 127.0.0.1.

Length, ack, result, as the tutorial's client expects. It runs the command,
waits for it to exit, and only then reads its output. Fine for `ls`; a
command that writes more than a pipe holds (64 KiB on Linux) blocks on its
full pipe and never exits, while the server waits for it to exit: both wait
for ever, and so does the client.
"""

import socket
import subprocess
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((HOST, PORT))
server.listen(5)
print(f"exec server on {HOST}:{PORT}", flush=True)

while True:
    conn, address = server.accept()
    while True:
        command = conn.recv(1024)
        if not command:
            break
        res = subprocess.Popen(command.decode("utf-8"), shell=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        res.wait()
        result = res.stdout.read() if res.returncode == 0 else res.stderr.read()
        conn.send(str(len(result)).encode("utf-8"))
        conn.recv(1024)
        conn.sendall(result)
    conn.close()
