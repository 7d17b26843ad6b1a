"""A remote exec client that reads the length whole: digits until the server falls quiet.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a command to run it on the server; `exit`, or the end of the input (Ctrl-D), to leave.

The tutorial's protocol sends the result's length as ASCII digits with
nothing after them, then waits for the client's `ok`. Nothing marks the end
of the digits: `12` may arrive as `1`, then `2`. What the client does know is
that the server sends nothing else before the ack. So it reads digits until
none has arrived for QUIET seconds, and only then sends `ok`. That is the
best a client can do with this protocol, and it costs QUIET seconds a
command; a protocol that frames its length (a newline after it, or a header
of fixed size, as netlab's own protocol has) needs no wait.

The result is then read until exactly that many bytes have come, in as many
recv() calls as it takes, and decoded once whole (a UTF-8 character may be
cut between two of them). An empty result (`0`) brings nothing back after
the `ok` to show the server has read it: the client waits QUIET seconds
before its next command, which could otherwise arrive glued to the `ok`.
"""

import socket
import sys
import time

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
QUIET = 0.3  # seconds without a digit that end the length


class ProtocolError(Exception):
    pass


def read_length(client):
    """The result's length: every digit that arrives before the server falls quiet."""
    digits = client.recv(64)
    client.settimeout(QUIET)
    try:
        while digits:
            more = client.recv(64)
            if not more:
                break
            digits += more
    except TimeoutError:  # QUIET seconds and nothing more: the length is whole
        pass
    finally:
        client.settimeout(None)
    if not digits:
        raise ProtocolError("the server closed the connection")
    if not digits.isdigit():
        raise ProtocolError(f"expected the length's digits, got {digits[:40]!r}")
    return int(digits)


def read_exactly(client, size):
    result = bytearray()
    while len(result) < size:
        chunk = client.recv(min(65536, size - len(result)))
        if not chunk:
            raise ProtocolError(f"the server closed after {len(result)} of {size} bytes")
        result += chunk
    return bytes(result)


def main():
    with socket.create_connection((HOST, PORT)) as client:
        while True:
            try:
                command = input().strip()
            except EOFError:
                break
            if not command:
                continue
            if command == "exit":
                break
            client.sendall(command.encode("utf-8"))
            try:
                size = read_length(client)
                client.sendall(b"ok")
                if size == 0:
                    # No result comes to show the server has read the ok: wait a little,
                    # so that the next command does not arrive glued to it.
                    time.sleep(QUIET)
                result = read_exactly(client, size)
            except ProtocolError as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            sys.stdout.write(result.decode("utf-8", errors="replace"))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
