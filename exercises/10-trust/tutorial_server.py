"""The tutorial's remote exec server, classic protocol: whatever arrives is run by the shell.

Usage: python3 exercises/10-trust/tutorial_server.py [HOST [PORT]] (default 127.0.0.1 8000).

One client at a time. For each command (one recv), the server runs it with
the shell, sends the length of the result (stdout if the exit status is 0,
else stderr) as decimal digits, waits for the client's "ok", then sends the
result.

What goes wrong (exercise 10, docs/exercises/10-trust.md): it trusts
whoever connects. Any web page open in a browser on this machine can make the
browser send an HTTP request to 127.0.0.1:8000; this server hands the whole
request to the shell, which runs each of its lines, the request's body
(text the page chose) included.
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
        try:
            command = conn.recv(1024)
        except ConnectionResetError:
            break
        if not command:
            break
        # communicate() reads both pipes while the command runs (no 64 KiB hang, exercise 4)
        process = subprocess.Popen(command.decode("utf-8", errors="replace"), shell=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate()
        result = out if process.returncode == 0 else err
        try:
            conn.send(str(len(result)).encode("utf-8"))
            conn.recv(1024)  # the client's "ok"
            conn.sendall(result)
        except OSError:
            break
    conn.close()
