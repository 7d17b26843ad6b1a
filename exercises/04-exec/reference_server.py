"""A remote exec server for the tutorial's exec client: length, wait for the ack, result.

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.
It runs any command anyone who can connect sends it: keep it on 127.0.0.1.

The protocol (the tutorial's): the client sends a command with one send();
the server runs it with a shell; the result is its stdout if it exited 0,
else its stderr. The server sends the result's length as ASCII digits, waits
for the client's ack (one recv() of anything: the client sends `ok`), then
sends the result. An empty result is `0`, the ack, and nothing. Several
commands may follow on one connection.

subprocess.run(..., capture_output=True) reads the command's stdout and
stderr while it runs. The tutorial's server waits for the command to exit
first and reads afterwards: a command writing more than a pipe holds (64 KiB
on Linux) then blocks on its full pipe, waiting for a reader that is itself
waiting for it to exit, for ever.

Each client has a thread of its own (socketserver.ThreadingTCPServer). A
command has no time limit here: one that never ends holds its client's
thread (netlab's exec server kills it after a limit).
"""

import contextlib
import socketserver
import subprocess
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


def run(command):
    """The command's result: stdout if it exited 0, else stderr."""
    finished = subprocess.run(command, shell=True, capture_output=True, stdin=subprocess.DEVNULL)
    return finished.stdout if finished.returncode == 0 else finished.stderr


class ExecHandler(socketserver.BaseRequestHandler):
    def handle(self):
        command = b""
        while True:
            # The protocol has no delimiter: one recv() is one command (a limit
            # of the protocol, which netlab's framed protocol does not share).
            command = command or self.request.recv(4096)
            if not command:
                return
            result = run(command.decode("utf-8", errors="replace"))
            self.request.sendall(str(len(result)).encode("ascii"))
            ack = self.request.recv(1024)  # `ok`: the length has gone out alone
            if not ack:
                return
            # After an empty result the client may send `ok` and its next command
            # at once, and one recv() then holds both: keep what follows the `ok`.
            command = ack[2:] if ack.startswith(b"ok") else b""
            self.request.sendall(result)  # nothing at all for an empty result


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server((HOST, PORT), ExecHandler) as server, contextlib.suppress(KeyboardInterrupt):
        print(f"exec server on {HOST}:{PORT}", flush=True)
        server.serve_forever()
