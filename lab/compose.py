"""The ``docker compose`` command line for one project.

Compose is driven through its CLI (the Python SDK has no compose); everything
else (inspecting containers, networks) goes through the ``docker`` SDK in
:mod:`lab.stack`. Every call names the project explicitly, so two stacks never
touch each other's containers.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import EnvironmentProblem, StackError

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Compose:
    """``docker compose -p PROJECT -f FILE [-f EXTRA]... [--profile P]...`` with a fixed env.

    ``extra_files`` are compose files merged over ``file`` (overrides).
    """

    project: str
    file: Path
    env: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    extra_files: tuple[Path, ...] = ()

    def command(self, *args: str) -> list[str]:
        """The full argument list for ``docker compose ARGS``."""
        base = ["docker", "compose", "--ansi", "never",
                "--project-name", self.project, "--file", str(self.file)]
        for extra in self.extra_files:
            base += ["--file", str(extra)]
        for profile in self.profiles:
            base += ["--profile", profile]
        return [*base, *args]

    def environment(self) -> dict[str, str]:
        """The process environment: ours, plus the stack's settings."""
        return {**os.environ, **self.env}

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        input: str | bytes | None = None,
        text: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker compose ARGS``; :class:`StackError` with its output if it fails."""
        try:
            result = subprocess.run(
                self.command(*args), cwd=self.file.parent, env=self.environment(),
                input=input, stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True, text=text, timeout=timeout, check=False,
            )
        except FileNotFoundError:
            raise EnvironmentProblem("the docker command is not installed") from None
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"`docker compose {' '.join(args)}` took over {timeout:g} s") from exc
        if check and result.returncode != 0:
            raise StackError(
                f"`docker compose {' '.join(args)}` exited {result.returncode}\n"
                f"{_text(result.stdout)}{_text(result.stderr)}"
            )
        return result

    def logs(self, services: Sequence[str] = (), *, tail: int | None = None) -> str:
        """Every service's log lines, timestamped, prefixed with the service name."""
        args = ["logs", "--no-color", "--timestamps"]
        if tail is not None:
            args += ["--tail", str(tail)]
        result = self.run(*args, *services, check=False, timeout=60)
        return strip_ansi(_text(result.stdout) + _text(result.stderr))


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal escapes (compose emits some even with ``--ansi never``)."""
    return ANSI_ESCAPE.sub("", text)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")
