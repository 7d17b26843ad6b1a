"""The tutorial's exchanges (written from classic.md alone) against netlab's servers."""

from __future__ import annotations

from tests.independent.chat_client import ChatClient
from tests.independent.classic_clients import closed, connect, exec_command, upload_file
from tests.independent.conftest import in_thread
from tests.support.servers import StartChat, StartExec, StartUpload


async def test_classic_exec_answers_stdout_or_stderr_by_the_exit_status(
        exec_server: StartExec) -> None:
    server = await exec_server(command_timeout=0.5, kill_grace=0.2)

    def talk() -> None:
        with connect(server.host, server.port) as sock:
            assert exec_command(sock, b"echo hi") == b"hi\n"
            assert exec_command(sock, b"echo out; echo err >&2; exit 1") == b"err\n"
            assert exec_command(sock, b"true") == b""  # "0", the ack, nothing
            assert exec_command(sock, b"seq 1 20000").endswith(b"\n20000\n")  # > 64 KiB
            slow = exec_command(sock, b"sleep 10")
            assert slow.startswith(b"netlab: command killed after"), slow

    await in_thread(talk)


async def test_classic_exec_can_be_turned_off(exec_server: StartExec) -> None:
    server = await exec_server(classic=False)

    def talk() -> None:
        with connect(server.host, server.port) as sock:
            assert exec_command(sock, b"echo hi").startswith(b"netlab: classic mode is off")

    await in_thread(talk)


async def test_classic_upload_stores_refuses_and_goes_on(upload_server: StartUpload) -> None:
    server = await upload_server(max_file_size=100)

    def talk() -> None:
        with connect(server.host, server.port) as sock:
            assert upload_file(sock, b"a.txt", b"hello") == b"true"
            # Refused names get false, after the bytes: the next file on the connection works.
            assert upload_file(sock, b"../escape.txt", b"nope") == b"false"
            assert upload_file(sock, b"b.txt", b"world") == b"true"
            # The same name again replaces it (classic overwrite, on by default).
            assert upload_file(sock, b"a.txt", b"again") == b"true"
        with connect(server.host, server.port) as sock:
            # Over --max-file-size: false, then the connection closes.
            assert upload_file(sock, b"big.bin", b"x" * 101) == b"false"
            assert closed(sock)

    await in_thread(talk)
    assert (server.root / "a.txt").read_bytes() == b"again"
    assert (server.root / "b.txt").read_bytes() == b"world"
    assert not (server.root.parent / "escape.txt").exists()


async def test_a_classic_chat_client_sends_reads_and_gets_only_messages(
        chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port) as alice, \
                connect(server.host, server.port) as tutorial:
            alice.welcome()
            alice.send("/nick alice")
            alice.until("renamed", new="alice")
            tutorial.sendall(b"hi from the tutorial")  # one send, no newline
            said = alice.until("message", text="hi from the tutorial")
            assert said["nick"].startswith("guest-")
            alice.send("welcome, tutorial")
            # The classic client hears messages only: no welcome, no notices.
            assert tutorial.recv(1024) == b"[#lobby] <alice> welcome, tutorial\n"

    await in_thread(talk)
