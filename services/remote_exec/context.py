"""What every exec connection shares: the runtime context, the admission queue, the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from services.remote_exec.config import TOKEN_ENV, ExecConfig
from services.remote_exec.outcome import Outcome, Stop
from services.remote_exec.policy import Admission, AuthThrottle
from services.remote_exec.sandbox import (
    Lease,
    UidPool,
    parse_uid_range,
    searchable_path,
    unavailable_reason,
)
from services.remote_exec.standby import Standby
from services.remote_exec.stopper import RunningCommands
from services.runtime.context import ServiceContext
from services.runtime.logs import log_event

SHUTDOWN_SLACK = 0.25  # seconds kept back to send EXIT before the grace period ends


@dataclass(kw_only=True)
class ServerContext(ServiceContext[ExecConfig]):
    """Shared by the sessions of one exec server: the runtime's context plus admission and env."""

    admission: Admission = field(init=False)
    env: dict[str, str] | None = field(init=False)
    auth_throttle: AuthThrottle = field(init=False)
    classic_held: int = field(init=False, default=0)  # bytes of classic answers in memory
    uid_pool: UidPool | None = field(init=False)  # None: the sandbox is off
    sandbox_off: str | None = field(init=False)  # why it is off
    running: RunningCommands = field(init=False)  # what shutdown must end
    standby: Standby | None = field(init=False)  # the next command's process, started ahead

    def __post_init__(self) -> None:
        self.running = RunningCommands()
        self.admission = Admission(self.config.max_concurrent, self.config.max_queued)
        self.auth_throttle = AuthThrottle(self.config.auth_max_failures,
                                          self.config.auth_window, self.config.auth_block)
        uids = parse_uid_range(self.config.sandbox_uids)
        self.sandbox_off = unavailable_reason(uids)
        self.uid_pool = UidPool(uids) if uids is not None and self.sandbox_off is None else None
        # Commands run with the server's environment minus the secret; None
        # (inherit as is, the cheapest spawn) when the secret is not in it.
        self.env = ({k: v for k, v in os.environ.items() if k != TOKEN_ENV}
                    if TOKEN_ENV in os.environ else None)
        if self.uid_pool is not None and "PATH" in os.environ:
            self.env = {**(self.env or os.environ), "PATH": searchable_path(os.environ["PATH"])}
        self.standby = None
        if self.uid_pool is not None and self.config.standby:
            self.standby = Standby(
                pool=self.uid_pool, admission=self.admission, shell=self.config.shell,
                env=self.env, kill_grace=self.config.kill_grace,
                pipe_size=self.config.pipe_size, logger=self.logger,
            )

    def lease(self) -> Lease | None:
        """A sandbox uid for one command (None when the sandbox is off)."""
        return self.uid_pool.lease() if self.uid_pool is not None else None

    def end_timings(self, *, shutdown: bool) -> tuple[float, float]:
        """(kill grace, drain timeout) for ending a command; at shutdown, fitted in the grace.

        A grace period shorter than ``kill_grace + drain_timeout`` would
        otherwise cut a command that ignores SIGTERM off before its EXIT.
        """
        kill_grace, drain = self.config.kill_grace, self.config.drain_timeout
        if shutdown:
            budget = max(0.0, self.config.grace_period - SHUTDOWN_SLACK)
            if kill_grace + drain > budget:
                kill_grace = min(kill_grace, budget / 2)
                drain = min(drain, budget - kill_grace)
        return kill_grace, drain

    @property
    def shutdown_delay(self) -> float:
        """How long a running command may go on once shutdown starts, leaving time to kill it."""
        reserve = self.config.kill_grace + self.config.drain_timeout + SHUTDOWN_SLACK
        return max(0.0, self.config.grace_period - reserve)

    def record(self, outcome: Outcome, *, peer: str, mode: str) -> None:
        """Count and log how a command ended."""
        self.count("commands_finished")
        self.count(f"ended_{outcome.stop.value}")
        if outcome.stop is not Stop.EXITED:
            self.count("commands_killed")
        self.count("output_bytes", outcome.stdout_bytes + outcome.stderr_bytes)
        log_event(self.logger, "exit", peer=peer, mode=mode, pid=outcome.pid,
                  stop=outcome.stop.value, status=outcome.status, signal=outcome.signal,
                  elapsed=f"{outcome.elapsed:.3f}", stdout=outcome.stdout_bytes,
                  stderr=outcome.stderr_bytes)


MAX_LOGGED_COMMAND = 200


def describe_command(command: str | bytes) -> str:
    """The command as logged: decoded, shortened."""
    text = command.decode("utf-8", "replace") if isinstance(command, bytes) else command
    if len(text) > MAX_LOGGED_COMMAND:
        text = text[:MAX_LOGGED_COMMAND] + "…"
    return text
