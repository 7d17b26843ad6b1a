"""The compose command line names the project, files and profiles explicitly."""

from __future__ import annotations

from pathlib import Path

from lab.compose import Compose, strip_ansi


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
