"""One client stops reading while another talks: does a third still hear everything?

Usage: python3 exercises/09-backpressure/slow_consumer.py [HOST [PORT]] (default 127.0.0.1 8000).

For a broadcast chat server (every line goes to every client, the sender
included). It opens three connections:
* a slow reader, with a small receive buffer, says one line and never reads again;
* a talker sends LINES lines of LINE_SIZE bytes (and reads its own lines
  back in a thread), never more than WINDOW lines ahead of what it and the
  listener have received, so that neither of them is ever the slow one;
* a listener counts the talker's lines as they arrive.
Every half second it prints how many lines the listener has, until all have
come or none came for STALL seconds. Then the slow reader reads again, and
it says whether the server had disconnected it. Exit status 0 when the
listener heard everything and the slow reader had been disconnected, else 1.
"""

import socket
import sys
import threading
import time

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
LINES = 8000
LINE_SIZE = 1024
WINDOW = 512
STALL = 3.0
started = time.monotonic()


class Counts:
    """The talker's lines heard by the listener and by the talker itself."""

    def __init__(self):
        self.heard = 0
        self.echoed = 0
        self.changed = threading.Condition()

    def add(self, heard=0, echoed=0):
        with self.changed:
            self.heard += heard
            self.echoed += echoed
            self.changed.notify_all()

    def room(self, sent):
        """Wait until line ``sent`` may go; False after STALL seconds without room."""
        with self.changed:
            return self.changed.wait_for(
                lambda: sent - min(self.heard, self.echoed) < WINDOW, timeout=STALL)


counts = Counts()


def say(text):
    print(f"{time.monotonic() - started:5.1f}s  {text}", flush=True)


def line(seq):
    head = f"m{seq:05d} "
    return (head + "x" * (LINE_SIZE - len(head) - 1) + "\n").encode("utf-8")


def wait_for(sock, needle, timeout=2.0):
    """Read until ``needle`` has arrived (True) or ``timeout`` passed (False)."""
    sock.settimeout(timeout)
    seen = b""
    try:
        while needle not in seen:
            data = sock.recv(65536)
            if not data:
                return False
            seen = seen[-len(needle):] + data
    except TimeoutError:
        return False
    finally:
        sock.settimeout(None)
    return True


def talk(sock):
    for start in range(0, LINES, 64):
        if not counts.room(start):
            return
        sock.sendall(b"".join(line(seq) for seq in range(start, min(LINES, start + 64))))


def drain(sock):
    try:
        while data := sock.recv(65536):
            counts.add(echoed=data.count(b"\n"))
    except OSError:
        pass


def listen(sock):
    """Count the talker's lines until all came, or none came for STALL seconds."""
    sock.settimeout(0.5)
    buffer, last_line, last_report = b"", time.monotonic(), 0.0
    while counts.heard < LINES and time.monotonic() - last_line < STALL:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            data = None
        if data == b"":
            say("the server closed the listener's connection")
            break
        if data:
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            new = sum(1 for text in lines if text.startswith(b"m"))
            if new:
                counts.add(heard=new)
                last_line = time.monotonic()
        if time.monotonic() - last_report >= 0.5:
            say(f"listener: {counts.heard} of {LINES} lines")
            last_report = time.monotonic()
    return counts.heard


def dropped(sock):
    """Read what waited for the slow reader; True if the server had closed or reset it."""
    sock.settimeout(STALL)
    received = 0
    try:
        while data := sock.recv(65536):
            received += len(data)
    except TimeoutError:
        say(f"the slow reader reads again: {received} bytes, and its connection is still open")
        return False
    except ConnectionResetError:
        say(f"the slow reader reads again: {received} bytes, then a reset: it was disconnected")
        return True
    say(f"the slow reader reads again: {received} bytes, then the end: it was disconnected")
    return True


def main():
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    slow.connect((HOST, PORT))
    talker = socket.create_connection((HOST, PORT))
    listener = socket.create_connection((HOST, PORT))
    for name, sock in (("talker", talker), ("listener", listener)):
        sock.sendall(f"{name} here\n".encode("utf-8"))
        if not wait_for(sock, f"{name} here\n".encode("utf-8")):
            say(f"the {name}'s line did not come back: is this a broadcast chat server?")
            return 1
    slow.sendall(b"slow reader here\n")
    if not wait_for(listener, b"slow reader here\n"):
        say("the slow reader's line did not reach the listener")
        return 1
    say(f"a slow reader has stopped reading; the talker sends {LINES} lines of {LINE_SIZE} bytes")
    threading.Thread(target=talk, args=(talker,), daemon=True).start()
    threading.Thread(target=drain, args=(talker,), daemon=True).start()
    heard = listen(listener)
    if heard == LINES:
        say(f"the listener heard all {LINES} lines")
    else:
        say(f"stalled: the listener heard {heard} of {LINES} lines, then nothing for {STALL:g} s")
    return 0 if dropped(slow) and heard == LINES else 1


if __name__ == "__main__":
    sys.exit(main())
