"""A remote exec client that never waits for a delayed ACK: one connection per command.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a command to run it on the server; `exit`, or the end of the input (Ctrl-D), to leave.

After an empty result the tutorial's client sends `ok` and then its next
command on the same connection: two small writes with nothing received in
between. Nagle's algorithm holds the second until the first is acknowledged,
and a server with nothing to send delays that acknowledgement (about 40 ms).
Turning Nagle off (TCP_NODELAY) is no cure against the tutorial's server: the
two writes then arrive together and its one recv() for the ack swallows the
command. Nothing the server sends tells the client that it has read the
`ok`, so on one connection a client can only wait.

This client opens a new connection for each command instead. The `ok` is
the last thing it writes on its connection, so nothing is ever held behind
it, and a command can never arrive glued to an `ok`. The price: a handshake
per command (a fraction of a millisecond on loopback, a round trip on a real
network) and one socket in TIME_WAIT per command on this side for a minute.
The real cures are on the server's side or in the protocol: a server that
acknowledges the `ok` as soon as it has read it, or a protocol with framed
messages and no ack at all (netlab's own exec protocol).

The length is read with one recv(), as in the tutorial: the server sends its
digits with one send and nothing after them, which on a healthy connection
arrive in one piece. Exercise 4 shows when they do not, and what that costs.
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


class ProtocolError(Exception):
    pass


def run(command):
    """One command on a connection of its own: its result (bytes)."""
    with socket.create_connection((HOST, PORT)) as conn:
        conn.sendall(command.encode("utf-8"))
        digits = conn.recv(64)
        if not digits.isdigit():
            raise ProtocolError(f"expected the result's length, got {digits[:40]!r}")
        size = int(digits)
        conn.sendall(b"ok")  # the last write on this connection: nothing waits behind it
        result = bytearray()
        while len(result) < size:
            chunk = conn.recv(min(65536, size - len(result)))
            if not chunk:
                raise ProtocolError(f"the server closed after {len(result)} of {size} bytes")
            result += chunk
    return bytes(result)


def main():
    while True:
        try:
            command = input().strip()
        except EOFError:
            break
        if not command:
            continue
        if command == "exit":
            break
        try:
            result = run(command)
        except (OSError, ProtocolError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        sys.stdout.write(result.decode("utf-8", errors="replace"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
