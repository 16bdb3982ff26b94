"""The bus contract: per-channel ordered events with offsets and a bounded history.

A channel is a string such as ``room:42`` or ``user:7``. Publishing appends the payload
to the channel's history, gives it the next offset (one more than the last, per channel)
and delivers it to every node subscribed to the channel, in offset order. A node subscribes
to a channel only while it has a local member there.

A channel's first offset is the time of its first event in microseconds, not 1. When the
bus loses a channel (Redis restarted without persistence, keys expired, the in-process bus
restarted) the channel starts again above every offset it had, so an old offset is never
mistaken for a new event: readers see a jump and reload instead of silently missing events.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MessageHandler = Callable[[str, int, bytes], Awaitable[None] | None]
"""Called by the bus for each delivered message: ``(channel, offset, payload)``."""

DEFAULT_HISTORY_LENGTH = 1000

ONCE_KEY_SECONDS = 15 * 60
"""How long ``publish_once`` remembers a key: longer than a client keeps resending."""


def first_offset_now() -> int:
    """The offset a channel created now starts from: the current time in microseconds.

    It stays below 2**53, so JavaScript clients read it exactly.
    """
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class BusEvent:
    """One published message as kept in a channel's history."""

    offset: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class History:
    """What a channel holds after a given offset.

    ``complete`` is false when the history no longer reaches back to the requested offset
    (or the offset lies in the future of the channel): the reader must reload the full
    state instead of replaying ``events``.
    """

    head: int
    events: tuple[BusEvent, ...]
    complete: bool


class Bus(abc.ABC):
    """Publish/subscribe with per-channel offsets and resumable history."""

    def __init__(self, handler: MessageHandler, history_length: int = DEFAULT_HISTORY_LENGTH):
        self._handler = handler
        self.history_length = history_length

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect; must be called before any other method."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and stop delivering."""

    @abc.abstractmethod
    async def publish(self, channel: str, payload: bytes) -> int:
        """Append to history and deliver to subscribers atomically; return the new offset."""

    @abc.abstractmethod
    async def publish_once(self, channel: str, payload: bytes, key: str) -> tuple[int, bool]:
        """Publish as ``publish`` unless a publish on this channel with the same ``key`` was
        made in the last ``ONCE_KEY_SECONDS``; return the offset and whether this call
        published (``False``: the offset is the earlier publish's, nothing was sent again).

        Lets a sender repeat a publish whose answer it lost without members receiving it
        twice."""

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> None:
        """Start delivering the channel to this node's handler.

        When this returns the subscription is in force: every message published afterwards
        is delivered.
        """

    @abc.abstractmethod
    async def unsubscribe(self, channel: str) -> None:
        """Stop delivering the channel to this node."""

    @abc.abstractmethod
    async def history(self, channel: str, since: int, limit: int | None = None) -> History:
        """Events with offsets greater than ``since``, oldest first (at most ``limit``)."""

    @abc.abstractmethod
    async def head(self, channel: str) -> int:
        """The offset of the newest message in the channel.

        A channel with no message yet gets its head fixed here, just below the offset its
        first message will have: a member that attached to it empty resumes without a gap.
        """

    @property
    @abc.abstractmethod
    def subscriptions(self) -> frozenset[str]:
        """Channels this node is subscribed to."""
