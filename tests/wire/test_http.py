"""What counts as an HTTP request among a connection's first bytes."""

from __future__ import annotations

import pytest

from services.wire.http import looks_like_http


@pytest.mark.parametrize(
    "first",
    [
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nContent-Type: text/plain\r\n\r\nid\n",
        b"GET /favicon.ico HTTP/1.1\r\n",
        b"GET / HTTP/1.0\n\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PUT /x HTTP/1.",
        b"BREW /pot HTTP/1.1\r\n",
        b"\r\nHost: 127.0.0.1\r\n",
        b"something\nhost:evil.example\n",
    ],
)
def test_requests_look_like_http(first: bytes) -> None:
    assert looks_like_http(first)


@pytest.mark.parametrize(
    "first",
    [
        b"GET",
        b"GET /",
        b"echo GET / HTTP/1.1",
        b"echo GET /",
        b"ls -l",
        b"uname -a\nid\n",
        b"hello.txt|12",
        b"get / http/1.1\r\n",
        b"the host: is down",
        b"Hostname: x\n",
        b"",
    ],
)
def test_tutorial_bytes_do_not(first: bytes) -> None:
    assert not looks_like_http(first)
