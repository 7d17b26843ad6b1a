"""The compose command line names the project, files and profiles explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import yaml

from lab.compose import Compose, strip_ansi
from services.runtime.config import ServerConfig
from services.runtime.main import SPARE_FDS


def test_every_command_names_its_project_files_and_profiles() -> None:
    compose = Compose("netlab-x", Path("/lab/compose.yaml"), {"A": "1"}, ("clients",),
                      (Path("/lab/faults.yaml"),))
    assert compose.command("up", "--wait") == [
        "docker", "compose", "--ansi", "never", "--project-name", "netlab-x",
        "--file", "/lab/compose.yaml", "--file", "/lab/faults.yaml",
        "--profile", "clients", "up", "--wait",
    ]


def test_the_stack_settings_are_added_to_the_process_environment() -> None:
    env = Compose("p", Path("compose.yaml"), {"NETLAB_CHAT_PORT": "18000"}).environment()
    assert env["NETLAB_CHAT_PORT"] == "18000" and "PATH" in env


def test_terminal_escapes_are_removed_from_logs() -> None:
    assert strip_ansi("\x1b[2Kchat-1  | hello\x1b[0m") == "chat-1  | hello"


def test_every_service_has_a_memory_limit_and_room_for_its_clients() -> None:
    spec = cast(dict[str, Any], yaml.safe_load(Path("compose.yaml").read_text()))
    services = spec["services"]
    for name, service in services.items():
        assert service.get("mem_limit"), f"{name} has no mem_limit"
    needed = ServerConfig().max_clients + SPARE_FDS
    for name in ("chat", "exec", "upload"):
        assert services[name]["ulimits"]["nofile"]["hard"] >= needed, name
    gateway = services["gateway"]
    routes = [arg for arg in gateway["command"] if arg.startswith("--route=")]
    per_route = int(gateway["environment"]["NETLAB_GATEWAY_MAX_CLIENTS"])
    # Each relayed connection holds two descriptors: the client's and the upstream's.
    assert gateway["ulimits"]["nofile"]["hard"] >= 2 * len(routes) * per_route + SPARE_FDS
    # Docker engines commonly cap a container's hard limit near 20,000: above it
    # no container of the lab starts ("error setting rlimit").
    for name, service in services.items():
        assert service.get("ulimits", {}).get("nofile", {}).get("hard", 0) <= 16384, name
