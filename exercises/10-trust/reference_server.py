"""A classic remote exec server that refuses what a browser sends it (exercise 10's solution).

Usage: python3 exercises/10-trust/reference_server.py [HOST [PORT]] (default 127.0.0.1 8000).

The tutorial's protocol, unchanged for its client: for each command (one
recv), run it with the shell, send the result's length as decimal digits,
wait for the client's "ok", send the result (stdout if the exit status is 0,
else stderr). A thread per client.

What it adds: anything that looks like HTTP is refused before any of it runs.
A web page in a browser can make the browser send a request to any
127.0.0.1 port; the classic protocol has no handshake and no token, so the
request's first bytes are all there is to tell it by: a request line
(`POST / HTTP/1.1`) or a header line (`Host: ...`). The server answers
400 and ends the connection, so nothing that follows (the body) is taken
for a command either.
"""

import contextlib
import re
import socket
import subprocess
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
COMMAND_TIMEOUT = 60.0
ACK_TIMEOUT = 10.0
LINGER = 1.0  # after a refusal, how long the rest of the request is read (and thrown away)

METHODS = b"GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE"
HTTP_START = re.compile(rb"^(?:" + METHODS + rb") ")  # the first bytes of a request line
HTTP_LINE = re.compile(  # a request line, or a header line, anywhere in what arrived
    rb"^(?:[A-Z]+ \S+ HTTP/\d|(?:host|origin|content-type|content-length|user-agent):)",
    re.IGNORECASE | re.MULTILINE,
)
REFUSAL = (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
           b"\r\nthis port runs shell commands; it does not speak HTTP\n")


def log(text):
    print(text, file=sys.stderr, flush=True)


def looks_like_http(data):
    return bool(HTTP_START.match(data) or HTTP_LINE.search(data))


def refuse(conn):
    """Answer 400 and end the connection; what follows is read only to be thrown away.

    Closing a socket with unread bytes makes the kernel send a reset, which
    can destroy the 400 on its way: so say it, send our FIN, and drain the
    rest (the request's body) for a moment before closing.
    """
    conn.sendall(REFUSAL)
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(LINGER)
    with contextlib.suppress(OSError):
        while conn.recv(4096):
            pass


def run(command):
    """The command's result as the protocol sends it: stdout on success, else stderr."""
    try:
        done = subprocess.run(command.decode("utf-8", errors="replace"), shell=True,
                              capture_output=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"timed out after {COMMAND_TIMEOUT:g} s\n".encode()
    return done.stdout if done.returncode == 0 else done.stderr


def serve(conn, peer):
    with conn:
        while True:
            command = conn.recv(1024)
            if not command:
                return
            if looks_like_http(command):
                log(f"{peer}: refused an HTTP request (a browser?); nothing of it ran")
                refuse(conn)
                return
            result = run(command)
            conn.sendall(str(len(result)).encode("utf-8"))
            conn.settimeout(ACK_TIMEOUT)
            conn.recv(1024)  # the client's "ok"
            conn.settimeout(None)
            conn.sendall(result)


def serve_quietly(conn, peer):
    try:
        serve(conn, peer)
    except OSError as error:  # a reset, a timeout: this client only
        log(f"{peer}: {error.strerror or error}")


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen(64)
    log(f"exec server on {HOST}:{PORT}")
    with server:
        while True:
            conn, (host, port) = server.accept()
            threading.Thread(target=serve_quietly, args=(conn, f"{host}:{port}"),
                             daemon=True).start()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
