"""The base of every netlab-mode protocol: one end of a conversation, sans-IO (model: h11).

Theory of operation. A service's protocol is a table keyed by (state, sender,
message type) giving the next state; both ends run the same table, so each
knows what the other may send next. :class:`Connection` owns what every such
protocol does the same way:

* the role (client or server) and the peer's;
* the table lookup, for the events we send and those we receive;
* ``receive_data`` with end of stream, delegated to the service's decoder
  (a :class:`~services.wire.buffer.ReceiveBuffer`);
* the broken state: once the peer broke the protocol, ``next_event`` raises
  the same :class:`RemoteProtocolError` again on every call;
* the error path: an event *we* may not send raises
  :class:`LocalProtocolError` (``bad-state`` where the peer would get
  ``unexpected-message``); one the *peer* may not send raises
  :class:`RemoteProtocolError`.

A service subclasses it with its table, its decoding (``_read_event``), its
encoding (``_encode``) and its byte accounting (``_account``): whatever the
table alone cannot say, such as how many bytes an upload still has to carry.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Generic, NoReturn, TypeVar

from services.wire.buffer import ReceiveBuffer
from services.wire.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from services.wire.sentinels import CLOSED, NEED_DATA, Closed, EventSource, NeedData


class Role(enum.Enum):
    """Which end of the conversation a connection is."""

    CLIENT = "client"
    SERVER = "server"

    @property
    def peer(self) -> Role:
        """The other end."""
        return Role.SERVER if self is Role.CLIENT else Role.CLIENT


StateT = TypeVar("StateT", bound=enum.Enum)
EventT = TypeVar("EventT")
Transitions = Mapping[tuple[StateT, Role, type], StateT]


class Connection(EventSource[EventT], Generic[StateT, EventT]):
    """One end of a conversation: bytes in, events out, events in, bytes out."""

    def __init__(
        self,
        role: Role,
        transitions: Transitions[StateT],
        state: StateT,
        decoder: ReceiveBuffer,
        *,
        broken_state: StateT | None = None,
    ) -> None:
        self.role = role
        self.peer_role = role.peer
        self.state = state
        self._transitions = transitions
        self._decoder = decoder
        # The state a peer's protocol error leaves us in; None: the state stays as it was.
        self._broken_state = broken_state
        self._broken: RemoteProtocolError | None = None

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        self._decoder.receive_data(data)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in an event."""
        return self._decoder.buffered

    def next_event(self) -> EventT | NeedData | Closed:
        """The next event from the peer, ``NEED_DATA`` or ``CLOSED``.

        Raises :class:`RemoteProtocolError` (and stays broken) if the peer
        broke the protocol.
        """
        if self._broken is not None:
            raise self._broken
        try:
            event = self._read_event()
            if event is not NEED_DATA and event is not CLOSED:
                self._advance(self.peer_role, event)
            return event
        except RemoteProtocolError as exc:
            self._broken = exc
            if self._broken_state is not None:
                self.state = self._broken_state
            raise

    def send(self, event: EventT) -> bytes:
        """The bytes of ``event``; raises :class:`LocalProtocolError` if not allowed now."""
        data = self._encode(event)
        self._advance(self.role, event)
        return data

    def _advance(self, sender: Role, event: EventT) -> None:
        new_state = self._next_state(sender, type(event))
        self.state = self._account(sender, event, new_state)

    def _next_state(self, sender: Role, event_type: type) -> StateT:
        """The state after ``sender`` sends an ``event_type`` now; fails if it may not."""
        new_state = self._transitions.get((self.state, sender, event_type))
        if new_state is None:
            self._fail(sender, ErrorCode.UNEXPECTED, f"{event_type.__name__} from the "
                       f"{sender.value} in state {self.state.value}")
        return new_state

    def _fail(self, sender: Role, code: ErrorCode, message: str) -> NoReturn:
        """Raise ``sender``'s error: ours is a local error, the peer's a remote one."""
        if sender is self.role:
            raise LocalProtocolError(
                ErrorCode.BAD_STATE if code is ErrorCode.UNEXPECTED else code, message
            )
        raise RemoteProtocolError(code, message)

    def _account(self, sender: Role, event: EventT, new_state: StateT) -> StateT:
        """Check and count what the table cannot express; the state to move to."""
        return new_state

    def _read_event(self) -> EventT | NeedData | Closed:
        """Decode the peer's next event from the decoder; the base then advances the table."""
        raise NotImplementedError

    def _encode(self, event: EventT) -> bytes:
        """The bytes of ``event``; raises :class:`LocalProtocolError` if it cannot be sent."""
        raise NotImplementedError
