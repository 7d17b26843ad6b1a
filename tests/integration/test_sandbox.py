"""The exec sandbox in the running lab: commands cannot reach the server, nor outlive themselves.

Each command runs under its own uid (20000-20999) in a container whose
server keeps only SETUID, SETGID, CHOWN, DAC_READ_SEARCH and KILL.
"""

from __future__ import annotations

from lab.stack import Stack

RUN = ("netlab", "exec", "run", "--host", "exec", "--port", "8000", "--")
SANDBOX_CAPS = {"CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_READ_SEARCH", "CAP_KILL"}


def run(stack: Stack, command: str) -> tuple[int, str, str]:
    result = stack.exec("client", *RUN, command, timeout=60)
    return result.returncode, result.stdout, result.stderr


def test_a_command_cannot_stop_the_server(stack: Stack) -> None:
    status, _, stderr = run(stack, "kill -STOP $PPID; kill -STOP 1")
    assert status != 0 and "not permitted" in stderr.lower()
    status, stdout, _ = run(stack, "echo still answering")
    assert (status, stdout) == (0, "still answering\n")


def test_a_command_cannot_read_the_servers_environment(stack: Stack) -> None:
    status, stdout, _ = run(stack, "cat /proc/$PPID/environ /proc/1/environ")
    assert status != 0
    assert "NETLAB_EXEC_TOKEN" not in stdout
    status, stdout, _ = run(stack, "env")
    assert "NETLAB_EXEC_TOKEN" not in stdout


def test_setsid_does_not_outlive_its_command(stack: Stack) -> None:
    status, stdout, _ = run(stack, "setsid sleep 600 & sleep 0.2; id -u; echo $!")
    assert status == 0
    uid, escaped = stdout.split()
    # From a second command (another uid): no process of the first uid is left.
    status, stdout, _ = run(
        stack, f"for d in /proc/[0-9]*; do grep -qs '^Uid:[[:space:]]*{uid}[[:space:]]' "
        "$d/status && echo $d; done; echo end"
    )
    assert status == 0 and stdout == "end\n", stdout
    assert stack.exec("exec", "test", "-e", f"/proc/{escaped}").returncode != 0


def test_the_exec_container_keeps_only_the_sandboxs_capabilities(stack: Stack) -> None:
    host = stack.container("exec").attrs["HostConfig"]
    assert set(host["CapDrop"]) == {"ALL"}
    assert {c if c.startswith("CAP_") else f"CAP_{c}" for c in host["CapAdd"]} == SANDBOX_CAPS
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True
    assert host["PidsLimit"] == 128
    logs = stack.compose.logs(["exec"])
    assert "sandbox=on" in logs
