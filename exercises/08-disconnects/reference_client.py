"""A line chat client that tells how its connection ended (exercise 8's solution).

Usage: python3 exercises/08-disconnects/reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type lines; each is sent with a newline and the server's answer line is
printed. `exit`, or the end of the input (Ctrl-D), leaves with status 0.

If the connection ends first, it prints one line saying how, and exits 1:
* the server closed it (FIN): the reply line never came, recv() returned b"";
* the server reset it (RST): ConnectionResetError; what was in flight may be lost;
* nothing came back for REPLY_TIMEOUT seconds: the server, or the path to it,
  is gone or stuck (a half-open connection looks exactly like this).
"""

import socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
REPLY_TIMEOUT = 10.0


def report(text):
    print(text, file=sys.stderr, flush=True)
    return 1


def converse(client):
    replies = client.makefile("rb")  # buffered: readline() reads up to the newline
    while True:
        try:
            message = input().strip()
        except EOFError:
            return 0
        if not message:
            continue
        if message == "exit":
            return 0
        try:
            client.sendall((message + "\n").encode("utf-8"))
            reply = replies.readline()
        except ConnectionResetError:
            return report("connection reset by the server (RST): what was in flight may be lost")
        except BrokenPipeError:
            return report("connection lost: the server reset it (RST) before this line went out")
        except TimeoutError:
            return report(f"no reply within {REPLY_TIMEOUT:g} s: the server is stuck or gone")
        except OSError as error:  # any other way for the connection to fail
            return report(f"connection lost: {error.strerror or error}")
        if not reply.endswith(b"\n"):  # b"" (or a line cut short): the end of the stream
            return report("the server closed the connection (FIN) before it replied")
        print(reply.decode("utf-8", errors="replace"), end="", flush=True)


def main():
    try:
        client = socket.create_connection((HOST, PORT), timeout=REPLY_TIMEOUT)
    except OSError as error:
        return report(f"cannot connect to {HOST}:{PORT}: {error.strerror or error}")
    with client:
        return converse(client)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
