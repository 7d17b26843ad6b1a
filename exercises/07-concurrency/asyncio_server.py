"""An echo server that serves every client at once: one thread, a task each (asyncio).

Usage: python3 asyncio_server.py [HOST [PORT]] (default 127.0.0.1 8000). Ctrl-C stops it.

One thread runs an event loop that waits on every socket at once (epoll on
Linux) and resumes the task of whichever socket is ready. A task costs a few
kilobytes: no stack of its own, no kernel task. Everything happens in one
thread, so a task that blocks (time.sleep, a blocking socket call, a long
computation) stops every client, not just its own. netlab's servers are
built the same way on Trio, whose nurseries and cancel scopes bound every
task's lifetime and every wait.
"""

import asyncio
import contextlib
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8000


async def echo(reader, writer):
    try:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()  # waits while the client is not reading: back-pressure
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(echo, HOST, PORT, backlog=128)
    print(f"echo server on {HOST}:{PORT}, a task per client", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
