"""An echo client: sends each line typed, prints what comes back, until `exit` or end of input.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).

One connection carries every line. An echo comes back as bytes, in as many
pieces as TCP likes, so the client reads until it has the whole line back
(its newline) rather than trusting one recv() to hold it. At the end it
closes the connection, which the server sees as recv() returning b''.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


def main():
    with socket.create_connection((HOST, PORT)) as client:
        pending = b""
        while True:
            try:
                line = input()
            except EOFError:
                break
            if line == "exit":
                break
            client.sendall(line.encode("utf-8") + b"\n")
            while b"\n" not in pending:
                data = client.recv(4096)
                if not data:
                    print("the server closed the connection")
                    return 1
                pending += data
            echoed, _, pending = pending.partition(b"\n")
            print(echoed.decode("utf-8", errors="replace"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
