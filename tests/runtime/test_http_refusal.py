"""Every classic port refuses a browser's request before acting on any of its bytes.

A web page in the user's browser may POST to 127.0.0.1:8001; the request
arrives in one piece and a classic exec server would run its lines. Each
server closes such a connection, answers HTTP 400, logs ``http-refused`` and
counts ``refused_http``.
"""

from __future__ import annotations

from pathlib import Path

import trio

from tests.support.servers import start_chat, start_exec, start_upload
from tests.support.waiting import wait_for

BROWSER_POST = (
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nOrigin: http://evil.example\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 46\r\n\r\n"
)


def browser_post(marker: Path) -> bytes:
    body = f"id > {marker}\nid > {marker}\n".encode()
    return BROWSER_POST.replace(b"46", str(len(body)).encode()) + body


async def send_and_read(port: int, data: bytes) -> bytes:
    answer = b""
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(data)
        with trio.fail_after(5):
            try:
                while chunk := await stream.receive_some():
                    answer += chunk
            except trio.BrokenResourceError:
                pass  # closed with the rest of the request unread: a reset may follow
    return answer


async def test_classic_exec_runs_nothing_from_a_browser_post(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_exec(nursery)
    marker = tmp_path / "x"
    await send_and_read(server.port, browser_post(marker))
    await wait_for(lambda: server.counters.extra["refused_http"] == 1)
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert server.counters.extra["commands_started"] == 0
    assert server.counters.extra["classic_commands"] == 0
    assert not marker.exists()


async def test_classic_exec_still_runs_a_command_that_mentions_get(
    nursery: trio.Nursery,
) -> None:
    server = await start_exec(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        await stream.send_all(b"echo GET / HTTP/1.1")
        with trio.fail_after(10):
            length = await stream.receive_some()
        assert int(length) == len(b"GET / HTTP/1.1\n")
    assert server.counters.extra["refused_http"] == 0


async def test_classic_upload_stores_nothing_from_a_browser_post(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_upload(nursery, tmp_path / "uploads")
    await send_and_read(server.port, browser_post(tmp_path / "x"))
    await wait_for(lambda: server.counters.extra["refused_http"] == 1)
    await wait_for(lambda: server.counters.tasks_open == 0)
    assert not [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]


async def test_chat_relays_nothing_from_a_browser_post(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_chat(nursery)
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as listener:
        await listener.send_all(b"/nick listener\n")
        with trio.fail_after(5):
            heard = await listener.receive_some()
        answer = await send_and_read(server.port, browser_post(tmp_path / "x"))
        assert b"HTTP/1.1 400 Bad Request\r\n" in answer
        await wait_for(lambda: server.counters.extra["refused_http"] == 1)
        await listener.send_all(b"/quit\n")
        with trio.fail_after(5):
            while chunk := await listener.receive_some():
                heard += chunk
    assert b"id >" not in heard and b"POST" not in heard
