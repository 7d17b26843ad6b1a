"""An echo server that serves every client at once: a thread each (socketserver).

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

socketserver's ThreadingTCPServer accepts in one thread and hands each
connection to a new thread running the handler, so a client that says
nothing blocks only its own thread. Two settings matter under load:

* request_queue_size is listen()'s backlog: connections the kernel has
  completed but the server has not accepted yet. socketserver's default is
  5; when 50 clients connect at once, the 6th and later wait for a SYN to be
  sent again (a second or more), so it is raised here.
* daemon_threads: a handler still talking to a client does not keep the
  process alive after Ctrl-C.

A thread costs a stack (8 MiB of address space, of which only the pages used
become memory) and a kernel task; thousands are fine, a hundred thousand
are not. lab check reports the memory each connection costs.
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


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    with Server((HOST, PORT), Echo) as server:
        print(f"echo server on {HOST}:{PORT}, a thread per client", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
