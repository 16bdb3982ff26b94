"""The in-process bus: one node, no services; the embedded default."""

from __future__ import annotations

import inspect
import time
from collections import deque
from dataclasses import dataclass, field

from realtime.bus.base import (
    DEFAULT_HISTORY_LENGTH,
    ONCE_KEY_SECONDS,
    Bus,
    BusEvent,
    History,
    MessageHandler,
    first_offset_now,
)


@dataclass(slots=True)
class _Channel:
    head: int = 0
    events: deque[BusEvent] = field(default_factory=deque)


class MemoryBus(Bus):
    """Channels kept in this process; delivery happens inside ``publish``, in order."""

    def __init__(
        self, handler: MessageHandler, history_length: int = DEFAULT_HISTORY_LENGTH
    ) -> None:
        super().__init__(handler, history_length)
        self._channels: dict[str, _Channel] = {}
        self._subscribed: set[str] = set()
        # (channel, key) -> (offset, when it is forgotten), oldest first.
        self._once: dict[tuple[str, str], tuple[int, float]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribed.clear()

    def _channel(self, channel: str) -> _Channel:
        found = self._channels.get(channel)
        if found is None:
            found = self._channels[channel] = _Channel(
                head=first_offset_now() - 1, events=deque(maxlen=self.history_length)
            )
        return found

    async def publish(self, channel: str, payload: bytes) -> int:
        offset = self._append(channel, payload)
        await self._deliver(channel, offset, payload)
        return offset

    async def publish_once(self, channel: str, payload: bytes, key: str) -> tuple[int, bool]:
        now = time.monotonic()
        while self._once:  # forget expired keys, oldest first
            oldest = next(iter(self._once))
            if self._once[oldest][1] > now:
                break
            del self._once[oldest]
        earlier = self._once.get((channel, key))
        if earlier is not None:
            return earlier[0], False
        offset = self._append(channel, payload)
        self._once[(channel, key)] = (offset, now + ONCE_KEY_SECONDS)  # before any await
        await self._deliver(channel, offset, payload)
        return offset, True

    def _append(self, channel: str, payload: bytes) -> int:
        state = self._channel(channel)
        state.head += 1
        state.events.append(BusEvent(state.head, bytes(payload)))
        return state.head

    async def _deliver(self, channel: str, offset: int, payload: bytes) -> None:
        if channel in self._subscribed:
            delivered = self._handler(channel, offset, payload)
            if inspect.isawaitable(delivered):
                await delivered

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def head(self, channel: str) -> int:
        return self._channel(channel).head

    async def history(self, channel: str, since: int, limit: int | None = None) -> History:
        state = self._channels.get(channel)
        head = 0 if state is None else state.head
        if since > head or since < 0:
            return History(head, (), False)
        if since == head or state is None:
            return History(head, (), True)
        events = tuple(event for event in state.events if event.offset > since)
        limit = self.history_length if limit is None else limit
        complete = bool(events) and events[0].offset == since + 1 and len(events) <= limit
        return History(head, events[:limit], complete)

    @property
    def subscriptions(self) -> frozenset[str]:
        return frozenset(self._subscribed)
