"""A line-reversing server: for each line a client sends, one line back, the text reversed.

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

The protocol: a client sends lines of UTF-8 text, each ended by a newline
(`\\n`); for each one the server sends back one line, the same characters in
reverse order, ended by a newline. `hello\\n` gets `olleh\\n`.

TCP delivers a stream of bytes, not the sender's send() calls: one recv()
can hold several lines, or a piece of one. So the server keeps what it has
received in a buffer, answers every complete line in it (up to a `\\n`), and
keeps the rest, an unfinished line, for the next recv(). The newline is the
framing: it says where a message ends, whatever the segments were. A line
longer than MAX_LINE bytes ends the connection, so a client that never
sends a newline cannot make the buffer grow for ever.
"""

import contextlib
import socketserver
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
MAX_LINE = 64 * 1024


class LineReverser(socketserver.BaseRequestHandler):
    def handle(self):
        buffer = b""
        while True:
            data = self.request.recv(4096)
            if not data:  # the client closed; an unfinished line is no line
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                text = line.decode("utf-8", errors="replace")
                self.request.sendall(text[::-1].encode("utf-8") + b"\n")
            if len(buffer) > MAX_LINE:
                print(f"{self.client_address}: line over {MAX_LINE} bytes, closing", flush=True)
                return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # restart at once, no "Address already in use"
    daemon_threads = True  # Ctrl-C does not wait for connected clients


if __name__ == "__main__":
    with Server((HOST, PORT), LineReverser) as server, contextlib.suppress(KeyboardInterrupt):
        print(f"line reverser on {HOST}:{PORT}", flush=True)
        server.serve_forever()
