"""Peer faults without Docker: the rogue's command line and the ops read back from it."""

from __future__ import annotations

from lab.faults.base import Target
from lab.faults.peer import PeerHalfClose, PeerRst, rogue_ops
from lab.history import Op


def test_a_direct_rogue_connects_to_the_service_itself() -> None:
    fault = PeerRst(target=Target(service="exec"), count=3, hold=2.5)
    assert fault.argv() == ["lab", "rogue", "--service", "exec", "--host", "exec",
                            "--port", "8000", "--behaviour", "rst", "--count", "3",
                            "--hold", "2.5"]


def test_a_rogue_via_the_gateway_uses_the_services_route() -> None:
    fault = PeerHalfClose(target=Target(service="upload"), via="gateway")
    argv = fault.argv()
    assert argv[argv.index("--host") + 1] == "gateway"
    assert argv[argv.index("--port") + 1] == "8002"
    assert argv[argv.index("--behaviour") + 1] == "half-close"


def test_the_rogues_op_lines_are_read_and_anything_else_skipped() -> None:
    op = Op(12.5, "rogue.rst-0", "info", "rst", {"local": "10.0.0.3:4000"})
    lines = [op.line(), "", "rogue: starting", "[1, 2]", '{"time": "x"}']
    assert rogue_ops(lines) == [op]
