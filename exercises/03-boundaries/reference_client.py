"""A client of the line reverser: sends each line typed, prints each reply line whole, once.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a line to have it reversed; `exit`, or the end of the input (Ctrl-D), to leave.

A reply is a line: it ends at its newline, not at the end of a recv(). The
client keeps what it has received in a buffer and reads until the buffer
holds a whole line; whatever came after that line stays in the buffer for
the next reply. So a reply cut into pieces is printed once, whole, and two
replies glued into one recv() are printed as two lines.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


def main():
    with socket.create_connection((HOST, PORT)) as client:
        buffer = b""
        while True:
            try:
                line = input()
            except EOFError:
                break
            if line == "exit":
                break
            client.sendall(line.encode("utf-8") + b"\n")
            while b"\n" not in buffer:
                data = client.recv(4096)
                if not data:
                    print("the server closed the connection")
                    return 1
                buffer += data
            reply, buffer = buffer.split(b"\n", 1)
            print(reply.decode("utf-8", errors="replace"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
