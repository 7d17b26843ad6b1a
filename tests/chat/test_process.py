"""``netlab chat serve`` as a real process: SIGTERM tells every client, then exit 0."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import trio

from services.chat.events import ChatCode, Error, Message
from tests.support.peers import LinePeer as Peer
from tests.support.peers import joined

LISTENING = re.compile(rb"event=listening host=\S+ port=(\d+)")


async def test_sigterm_tells_clients_and_exits_zero() -> None:
    command = [sys.executable, "-m", "services.chat", "serve", "--port", "0",
               "--grace-period", "3"]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    log = b""
    try:
        with trio.fail_after(10):
            while not (match := LISTENING.search(log)):
                chunk = await process.stderr.receive_some(4096)
                assert chunk, log.decode()
                log += chunk
        port = int(match.group(1))
        alice = await joined(port, "alice")
        classic = await Peer.connect(port, preface=False)
        await classic.send(b"tutorial says hi")
        assert await alice.expect(Message) == Message("lobby", "guest-2", "tutorial says hi")
        process.send_signal(signal.SIGTERM)
        assert (await alice.drain())[-1].code == ChatCode.SHUTTING_DOWN  # type: ignore[union-attr]
        assert await classic.drain() == [
            Error(ChatCode.SHUTTING_DOWN, "server is shutting down (SIGTERM)")
        ]
        with trio.fail_after(10):
            status = await process.wait()
            while chunk := await process.stderr.receive_some(4096):
                log += chunk
        assert status == 0, log.decode()
        assert b"event=clients-told count=2" in log
        assert b"tasks_open=0" in log
        for peer in (alice, classic):
            await peer.aclose()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stderr.aclose()
