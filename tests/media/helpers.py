"""A media server with one publisher and subscribers, all real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench.clip import make_clip
from bench.peers import ClipPublisher, FrameSubscriber
from media.config import MediaConfig
from media.server import MediaRoom, MediaServer

TEACHER = 10


class Forwarding:
    def __init__(self, **config: object) -> None:
        self.server = MediaServer(MediaConfig(loopback_only=True, **config))  # type: ignore[arg-type]
        self.room: MediaRoom = self.server.room(1)
        self.publisher = ClipPublisher(make_clip())
        self.subscribers: list[FrameSubscriber] = []

    async def publish(self) -> None:
        await self.publisher.start(
            lambda offer: self.room.publish(TEACHER, "teacher", offer, teacher=True)
        )

    async def subscribe(self, keep_arrivals: bool = False) -> FrameSubscriber:
        subscriber = FrameSubscriber(keep_arrivals)
        name = f"student-{len(self.subscribers)}"
        self.subscribers.append(subscriber)
        await subscriber.start(lambda offer: self.room.subscribe(name, TEACHER, offer))
        return subscriber

    async def close(self) -> None:
        for subscriber in self.subscribers:
            await subscriber.close()
        await self.publisher.close()
        await self.server.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.02)


async def until_still(count: Callable[[], int], quiet: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until ``count`` has not grown for ``quiet`` seconds: what was already on its way
    when something was switched off arrives late on a busy machine."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError("the count never stopped growing")
        await asyncio.sleep(0.02)
        if count() != last:
            last, since = count(), time.monotonic()
