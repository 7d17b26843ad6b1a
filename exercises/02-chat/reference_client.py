"""A chat client that hears the room while you type: one thread reads the socket, one the keyboard.

Usage: python3 reference_client.py [HOST [PORT]] (default 127.0.0.1 8000).
Type a line to say it; `exit`, or the end of the input (Ctrl-D), to leave.

In a chat room, messages arrive when others speak, not as replies to yours.
So the socket has a thread of its own that prints whatever arrives, whenever
it arrives, while the main thread waits at input(). Each line goes out with
its newline, so the server knows where a message ends (TCP keeps no
boundaries between sends); netlab's chat then serves this client in line
mode, like `nc`, and its welcome and notices are printed too.
"""

import codecs
import contextlib
import socket
import sys
import threading

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


def print_what_arrives(client, leaving):
    """Print everything the server sends until it closes (or we do)."""
    # A UTF-8 character can be cut between two recv() calls: decode incrementally.
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while True:
        try:
            data = client.recv(4096)
        except OSError:  # reset, or our own close() while leaving
            data = b""
        if not data:
            break
        sys.stdout.write(decoder.decode(data))
        sys.stdout.flush()
    if not leaving.is_set():
        print("the server closed the connection; press Enter to leave", flush=True)


def main():
    client = socket.create_connection((HOST, PORT))
    leaving = threading.Event()
    reader = threading.Thread(target=print_what_arrives, args=(client, leaving), daemon=True)
    reader.start()
    while True:
        try:
            line = input()
        except EOFError:
            break
        if line == "exit" or not reader.is_alive():
            break
        if line.strip():
            try:
                client.sendall(line.encode("utf-8") + b"\n")
            except OSError as error:
                print(f"could not send: {error}", flush=True)
                break
    leaving.set()
    with contextlib.suppress(OSError):
        # FIN: "nothing more from me". The server closes its side in turn, which
        # ends the reader with everything still on its way printed.
        client.shutdown(socket.SHUT_WR)
    reader.join(timeout=2)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
