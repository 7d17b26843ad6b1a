"""HOST:PORT, as the gateway's options and the control API read and write it."""

from __future__ import annotations

import pytest

from lab.errors import InvalidAddress
from lab.proxy.address import format_host_port, parse_host_port


@pytest.mark.parametrize(("text", "parsed"), [
    ("chat:8000", ("chat", 8000)),
    ("127.0.0.1:1", ("127.0.0.1", 1)),
    ("[::1]:8474", ("::1", 8474)),
])
def test_host_port_parses_and_formats_back(text: str, parsed: tuple[str, int]) -> None:
    assert parse_host_port(text, "x") == parsed
    assert format_host_port(*parsed) == text


@pytest.mark.parametrize("text", ["chat", ":8000", "[]:1", "chat:x", "chat:0", "chat:65536", 8000])
def test_bad_host_ports_are_refused(text: object) -> None:
    with pytest.raises(InvalidAddress):
        parse_host_port(text, "upstream")


def test_port_zero_is_allowed_where_it_means_pick_one() -> None:
    assert parse_host_port("127.0.0.1:0", "listen", allow_zero=True) == ("127.0.0.1", 0)
