"""The independent chat client (written from the reference alone) against netlab's chat server."""

from __future__ import annotations

import time

from tests.independent.chat_client import ChatClient, longest_server_line
from tests.independent.conftest import in_thread
from tests.support.servers import StartChat


async def test_two_clients_talk_in_netlab_mode(chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port) as alice:
            welcome = alice.welcome()
            guest = welcome["nick"]
            assert guest.startswith("guest-") and welcome["room"] == "lobby"
            alice.until("joined", nick=guest, room="lobby")
            alice.send("/nick alice")
            alice.until("renamed", old=guest, new="alice")
            with ChatClient(server.host, server.port) as bob:
                bob.welcome()
                bob.send("/NICK bob")  # commands ignore case
                bob.until("renamed", new="bob")
                alice.until("renamed", new="bob")
                alice.send("hello, bob")
                said = bob.until("message", nick="alice")
                assert (said["room"], said["text"]) == ("lobby", "hello, bob")
                bob.send("//slash")  # says "/slash"
                assert alice.until("message", nick="bob")["text"] == "/slash"
                alice.send("/who")
                who = alice.until("who")
                assert (who["room"], who["total"]) == ("lobby", "2")
                assert sorted(who["nicks"].split()) == ["alice", "bob"]
                alice.send("/msg bob psst")
                private = bob.until("private", nick="alice")
                assert (private["to"], private["text"]) == ("bob", "psst")
                assert alice.until("private", to="bob")["text"] == "psst"  # echoed to the sender
                alice.send("/join #dev")
                alice.until("joined", nick="alice", room="dev")
                left = bob.until("left", nick="alice", room="lobby")
                assert left["reason"] == "moved to #dev"
                alice.send("/rooms")
                rooms = alice.until("rooms")
                assert rooms["total"] == "2"
                assert sorted(rooms["rooms"].split()) == ["#dev:1", "#lobby:1"]
                bob.send("/quit see you")
                bob.until("bye")
                assert bob.ends()
            alice.send("/help")
            assert alice.until("help")["text"]
            # Nothing alice said came back to her as a message.
            assert not [line for line in alice.lines if line.kind == "message"
                        and line["nick"] == "alice"]

    await in_thread(talk)


async def test_a_line_mode_client_needs_no_preface(chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port, netlab=False) as carol:
            carol.send("/nick carol")  # the first line, newline included, at once
            guest = carol.welcome()["nick"]
            carol.until("renamed", old=guest, new="carol")
            carol.send("/quit")
            carol.until("bye")
            assert carol.ends()

    await in_thread(talk)


async def test_refused_lines_are_answered_and_the_connection_goes_on(
        chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port) as client, \
                ChatClient(server.host, server.port) as other:
            client.welcome()
            other.welcome()
            other.send("/nick taken")
            other.until("renamed", new="taken")
            for line, code in [
                ("/frobnicate", "unknown-command"),
                ("/nick", "bad-arguments"),
                ("/nick taken", "nick-taken"),
                ("/nick TAKEN", "nick-taken"),  # nicks compare without regard to case
                ("/nick operator", "bad-nick"),
                ("/nick 0perator", "bad-nick"),
                ("/nick guest-99", "bad-nick"),
                ("/nick -dash", "bad-nick"),
                ("/nick " + "n" * 25, "bad-nick"),
                ("/join #bad room", "bad-arguments"),
                ("/join .dot", "bad-room"),
                ("/msg nobody hi", "no-such-nick"),
                ("x" * 3000, "line-too-long"),
            ]:
                client.send(line)
                error = client.until("error", code=code)
                assert error["text"], line
            client.send(b"caf\xe9")  # not UTF-8
            client.until("error", code="bad-encoding")
            client.send("/who")
            assert client.until("who")["total"] == "2"  # still connected

    await in_thread(talk)


async def test_text_is_sanitized_and_lines_fit_what_a_client_must_accept(
        chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port) as sender, \
                ChatClient(server.host, server.port) as reader:
            sender.welcome()
            reader.welcome()
            sender.send("red \x1b[31malert\u202e")
            said = reader.until("message", nick=sender.nick)
            assert said["text"] == "red \ufffd[31malert\ufffd"
            # The longest line a client may send, all control characters: each one
            # becomes three bytes; the server's line still fits the reference's bound.
            sender.send("\x01" * 2048)
            long = reader.until("message", nick=sender.nick)
            assert long["text"] == "\ufffd" * 2048
            assert len(long.raw.encode("utf-8")) <= longest_server_line()

    await in_thread(talk)


async def test_a_wrong_preface_is_refused_and_closed(chat_server: StartChat) -> None:
    server = await chat_server()

    def talk() -> None:
        with ChatClient(server.host, server.port, netlab=False) as client:
            client.peer.send(b"\x00netlab/1 exec\n")
            assert client.until("error", code="bad-preface")
            assert client.ends()

    await in_thread(talk)


async def test_past_max_clients_the_server_says_busy_and_closes(chat_server: StartChat) -> None:
    server = await chat_server(max_clients=1)

    def talk() -> None:
        with ChatClient(server.host, server.port) as first:
            first.welcome()
            with ChatClient(server.host, server.port, netlab=False) as late:
                # Before it sent anything.
                assert late.until("error", code="busy")
                assert late.ends()

    await in_thread(talk)


async def test_a_silent_client_hears_the_room_until_idle_timeout(chat_server: StartChat) -> None:
    server = await chat_server(idle_timeout=1.0)

    def talk() -> None:
        with ChatClient(server.host, server.port) as listener, \
                ChatClient(server.host, server.port) as talker:
            listener.welcome()
            talker.welcome()
            started = time.monotonic()
            talker.send("anyone?")
            assert listener.until("message", text="anyone?")
            assert listener.until("error", code="idle-timeout")
            assert listener.ends()
            assert time.monotonic() - started < 10

    await in_thread(talk)
