"""Work under way, by key, for readers that must find it finished: a room entry waits for
its room's messages still being published on this node, so that the history it reads next
holds every message sent before its own stream began."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable, Iterator


class UnderWay:
    """Tracks work by key: ``with under_way.doing(key): ...``; ``await under_way.done(key)``."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, set[asyncio.Future[None]]] = {}

    @contextlib.contextmanager
    def doing(self, key: Hashable) -> Iterator[None]:
        """Mark work under ``key`` for as long as the block runs."""
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        running = self._by_key.setdefault(key, set())
        running.add(finished)
        try:
            yield
        finally:
            running.discard(finished)
            if not running and self._by_key.get(key) is running:
                del self._by_key[key]
            finished.set_result(None)

    async def done(self, key: Hashable) -> None:
        """Wait until the work under ``key`` that is under way now has ended (its code
        after the block runs first, up to its next wait); later work is not waited for."""
        running = self._by_key.get(key)
        if running:
            await asyncio.wait(list(running))
