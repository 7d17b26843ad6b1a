"""Connect, send some lines, then read until the connection ends, and say how it ended.

Usage: python3 exercises/08-disconnects/how_it_ends.py HOST PORT [LINE...]

Prints each thing that happens, with the time since the start, and then
one of three endings:
* FIN: recv() returned b'': the peer closed its side of the connection;
* RST: ConnectionResetError: the peer (or something on the way) reset it;
* silence: nothing arrived for SILENCE seconds, and no FIN or RST either.
  From this side a slow peer, a cut network and a vanished host look the
  same: the connection is still open, as far as this program can tell.
"""

import socket
import sys
import time

SILENCE = 8.0

host, port, lines = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
started = time.monotonic()


def say(text):
    print(f"{time.monotonic() - started:5.2f}s  {text}", flush=True)


try:
    sock = socket.create_connection((host, port), timeout=SILENCE)
except OSError as error:
    say(f"could not connect: {error.strerror or error}")
    sys.exit(1)
say(f"connected to {host}:{port}")
with sock:
    try:
        for line in lines:
            sock.sendall(line.encode("utf-8") + b"\n")
            say(f"sent {line!r}")
        while True:
            data = sock.recv(4096)
            if not data:
                say("FIN: recv() returned b'': the peer closed its side")
                break
            say(f"received {data!r}")
    except (ConnectionResetError, BrokenPipeError) as error:
        say(f"RST: {type(error).__name__}: the connection was reset")
    except TimeoutError:
        say(f"silence: nothing for {SILENCE:g}s, and no FIN or RST either")
