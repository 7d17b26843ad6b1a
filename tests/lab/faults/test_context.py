"""LabContext without Docker: labels, the control API's address, peers and recorded ops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from lab.faults.context import LabContext
from lab.history import Op
from lab.labels import LAB_LABEL, SESSION_ID, SESSION_LABEL


@dataclass
class GatewayStandIn:
    ports: dict[str, Any]

    @property
    def attrs(self) -> dict[str, Any]:
        return {"NetworkSettings": {"Ports": self.ports}}


@dataclass
class StackStandIn:
    project: str = "netlab-test-abc"
    env: dict[str, str] = field(default_factory=dict)
    client: Any = None
    gateway_ports: dict[str, Any] = field(default_factory=dict)

    def container(self, service: str) -> GatewayStandIn:
        assert service == "gateway"
        return GatewayStandIn(self.gateway_ports)


def lab(env: dict[str, str] | None = None, ports: dict[str, Any] | None = None) -> LabContext:
    return LabContext(StackStandIn(env=env or {}, gateway_ports=ports or {}))  # type: ignore[arg-type]


def test_what_a_fault_creates_carries_the_lab_session_and_project_labels() -> None:
    labels = lab().labels(role="sidecar", fault="drop-1234")
    assert labels == {LAB_LABEL: "true", SESSION_LABEL: SESSION_ID,
                      "org.netlab.role": "sidecar", "org.netlab.fault": "drop-1234",
                      "com.docker.compose.project": "netlab-test-abc"}


def test_the_control_api_is_where_the_gateway_publishes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NETLAB_PROXY_TOKEN", raising=False)
    ctx = lab(ports={"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41000"}],
                     "8474/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41474"}]})
    client = ctx.proxy_client()
    assert (client.host, client.port, ctx.proxy_token) == ("127.0.0.1", 41474, "netlab-lab")


def test_without_a_published_port_the_control_api_is_at_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NETLAB_PROXY_PORT", raising=False)
    assert lab().proxy_client().port == 8474
    monkeypatch.setenv("NETLAB_PROXY_PORT", "9474")
    assert lab().proxy_client().port == 9474


def test_the_stacks_settings_name_the_control_port_and_token() -> None:
    ctx = lab({"NETLAB_PROXY_PORT": "18474", "NETLAB_PROXY_TOKEN": "t0ken"},
              ports={"8474/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41474"}]})
    assert (ctx.proxy_client().port, ctx.proxy_token) == (18474, "t0ken")


def test_each_client_is_known_by_its_latest_connect() -> None:
    ctx = lab()
    ctx.note_connects([
        Op(1.0, "o.chat-0", "ok", "connect", {"local": "172.18.0.9:40000"}),
        Op(2.0, "o.chat-1", "fail", "connect", {"error": "refused"}),
        Op(3.0, "o.chat-0", "ok", "connect", {"local": "172.18.0.9:40002"}),
        Op(4.0, "o.chat-0", "ok", "send", {"seq": 1}),
    ])
    assert ctx.peer_of("o.chat-0") == "172.18.0.9:40002"
    assert ctx.peer_of("o.chat-1") is None


def test_ops_a_fault_gathers_go_into_the_history() -> None:
    ctx = lab()
    op = Op(1.0, "rogue.rst-0", "info", "rst", {})
    ctx.record([op])
    assert list(ctx.history) == [op]
