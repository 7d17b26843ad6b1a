"""What every session of one upload server shares: the runtime context and the store."""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from services.runtime.context import ServiceContext
from services.upload.config import UploadConfig
from services.upload.memory import TransferMemory
from services.upload.storage import Store


@dataclass(kw_only=True)
class ServerContext(ServiceContext[UploadConfig]):
    """The runtime's context plus the store (its disk work bounded by ``io_threads``)
    and the downloads' memory budget."""

    store: Store = field(init=False)
    memory: TransferMemory = field(init=False)

    def __post_init__(self) -> None:
        self.store = Store(self.config, limiter=trio.CapacityLimiter(self.config.io_threads))
        self.memory = TransferMemory(self.config.transfer_memory, self.counters)
