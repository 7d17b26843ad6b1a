"""An echo server: sends back every byte each client sends, one client after another.

Usage: python3 reference_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

Three habits make it correct where the tutorial's first server is not:
accept() is in a loop (the server outlives its first client), recv() is in
a loop (a connection carries many messages), and recv() returning b'' ends
the connection (the client closed its side: there is nothing more to read).
"""

import contextlib
import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


def serve_client(conn, address):
    with conn:
        while True:
            data = conn.recv(4096)
            if not data:  # b'': the client closed the connection
                break
            conn.sendall(data)  # send() may send only part; sendall() sends it all
    print(f"{address[0]}:{address[1]} left", flush=True)


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Restarting the server at once must not fail with "Address already in use".
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((HOST, PORT))
    server.listen()
    print(f"echo server on {HOST}:{PORT}", flush=True)
    with server:
        while True:
            conn, address = server.accept()
            print(f"{address[0]}:{address[1]} connected", flush=True)
            try:
                serve_client(conn, address)
            except ConnectionError as error:  # a reset: that client is gone, serve the next
                print(f"{address[0]}:{address[1]} lost: {error}", flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
