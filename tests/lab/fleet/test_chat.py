"""Chat fleets against a real chat server: every line heard, in order, once; cut-offs noticed."""

from __future__ import annotations

from collections import defaultdict
from functools import partial

import trio

from lab.fleet.chat import message_text, parse_text
from lab.fleet.spec import ChatSpec, FleetSpec
from lab.history import History
from services.chat.client import open_chat
from tests.lab.fleet.conftest import RunFleet
from tests.support.servers import start_chat
from tests.support.waiting import wait_for


def chat_fleet(port: int, **overrides: object) -> FleetSpec:
    chat = {"clients": 3, "messages": 5, "interval": 0.01, "host": "127.0.0.1",
            "port": port, "linger": 0.3, "liveness": 2.0, **overrides}
    return FleetSpec(name="t", seed=1, deadline=20.0, chat=ChatSpec(**chat))  # type: ignore[arg-type]


def heard(history: History, process: str) -> dict[str, list[int]]:
    """Sequence numbers ``process`` heard, per sender, in the order heard."""
    seqs: dict[str, list[int]] = defaultdict(list)
    for op in history.select(f="recv", process=process):
        seqs[op.value["from"]].append(op.value["seq"])
    return dict(seqs)


def test_a_message_text_carries_sender_and_sequence() -> None:
    text = message_text("t.chat-1", 7, 1700000000.25)
    assert text == "m t.chat-1 7 1700000000.250000"
    assert parse_text(text) == ("t.chat-1", 7)
    assert parse_text("hello there") is None


async def test_every_client_hears_every_other_clients_lines_in_order(
        nursery: trio.Nursery, run: RunFleet) -> None:
    server = await start_chat(nursery)
    history = await run(chat_fleet(server.port))
    processes = [f"t.chat-{i}" for i in range(3)]
    assert sorted(history.processes()) == processes
    for process in processes:
        others = {p: list(range(5)) for p in processes if p != process}
        assert heard(history, process) == others
        ops = history.of(process)
        assert [(op.type, op.f) for op in ops[:3]] == [
            ("invoke", "connect"), ("ok", "connect"), ("info", "joined")]
        assert ops[1].value["local"].startswith("127.0.0.1:")
        assert ops[2].value == {"nick": process, "room": "lobby"}
        assert [op.value["seq"] for op in ops if op.f == "send" and op.type == "ok"] == [
            0, 1, 2, 3, 4]
        assert [(op.type, op.f, op.value) for op in ops[-2:]] == [
            ("ok", "close", {}), ("ok", "done", {"sent": 5, "received": 10})]
    # The start barrier: nobody sent before everybody had connected.
    last_connect = max(op.time for op in history.select(f="connect", type="ok"))
    first_send = min(op.time for op in history.select(f="send", type="invoke"))
    assert last_connect <= first_send
    await wait_for(lambda: server.counters.connections_open == 0)


async def test_a_line_from_a_fleet_nick_out_of_format_is_garbled(
        nursery: trio.Nursery, run: RunFleet) -> None:
    server = await start_chat(nursery)

    async def other_fleet() -> None:
        async with open_chat(server.host, server.port, nick="o.chat-9") as chat:
            await wait_for(lambda: server.counters.connections_open >= 2)
            await trio.sleep(0.2)  # the fleet client has its nick and listens
            await chat.say("m o.chat-9 0 1.0")
            await chat.say("m o.chat-9 1 garbled")

    nursery.start_soon(other_fleet)
    history = await run(chat_fleet(server.port, clients=1, messages=0, linger=1.0))
    assert [(op.f, op.value) for op in history if op.f in ("recv", "garbled")] == [
        ("recv", {"from": "o.chat-9", "seq": 0}), ("garbled", {"text": "m o.chat-9 1 garbled"})]


async def silent_after_nick(stream: trio.SocketStream) -> None:
    """A chat 'server' that welcomes, renames, then never answers again."""
    async with stream:
        data = b""
        while b"\n" not in data:  # the preface
            data += await stream.receive_some(4096)
        await stream.send_all(b"= welcome guest-1 #lobby\n")
        while b"/nick" not in data or not data.endswith(b"\n"):
            data += await stream.receive_some(4096)
        nick = data.split(b"/nick ")[1].split(b"\n")[0].decode()
        await stream.send_all(f"* guest-1 is now {nick}\n".encode())
        while await stream.receive_some(4096):
            pass


async def test_a_silent_server_is_declared_dead_after_twice_the_liveness(
        nursery: trio.Nursery, run: RunFleet) -> None:
    listeners = await nursery.start(partial(trio.serve_tcp, silent_after_nick, 0,
                                            host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    with trio.fail_after(10):
        history = await run(chat_fleet(port, clients=1, messages=0, linger=5.0,
                                       liveness=0.3))
    lost = history.select(f="disconnected")
    assert [op.value for op in lost] == [{"error": "liveness timeout"}]
    connected = history.select(f="connect", type="ok")[0]
    assert 0.5 <= lost[0].time - connected.time < 2.0
