"""Chat keeps every message, in order, through 100 ms of latency with jitter."""

from lab.faults.base import Target
from lab.faults.stream import Latency
from lab.fleet.spec import ChatSpec, FleetSpec
from lab.pytest_plugin import LabRun


async def test_chat_survives_latency(netlab: LabRun) -> None:
    slow = Latency(target=Target(service="chat"), stream="both", latency=100, jitter=50)
    async with netlab.fault(slow):
        await netlab.fleet(FleetSpec(name="talkers", chat=ChatSpec(clients=3, messages=10)))
    verdicts = await netlab.check("chat.delivery", "chat.order", "all.serves-new-clients")
    assert [v.status for v in verdicts] == ["pass"] * 3, verdicts
