"""An echo server that serves every client at once: a process each (socketserver).

Usage: python3 forking_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

ForkingTCPServer forks a child process for each connection; the child runs
the handler and exits when the client leaves, and the parent reaps it. A
child shares the parent's memory until either writes to a page (copy on
write), so a fork costs less than a whole interpreter, but far more than a
thread; and clients can no longer share anything in memory (a chat room
would need pipes or sockets between the processes). It is what servers did
before threads were cheap, and what isolates one client's crash from the
others.
"""

import contextlib
import socketserver
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                data = self.request.recv(4096)
            except ConnectionError:
                return
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ForkingTCPServer):
    allow_reuse_address = True
    request_queue_size = 128
    max_children = 200  # socketserver's default, 40, would make the 41st client wait


if __name__ == "__main__":
    with Server((HOST, PORT), Echo) as server:
        print(f"echo server on {HOST}:{PORT}, a process per client", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
