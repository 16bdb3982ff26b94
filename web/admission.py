"""Admission control: at most so many expensive requests of one kind run at once on a node.

A request that cannot start within ``max_wait`` seconds, or that finds the queue already
full, is refused with ``Overloaded`` and a jittered ``retry_after``. Under a storm the node
then serves what it can in time instead of building a backlog whose callers have given up
(and whose database waits turn into errors); callers come back spread out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from classroom.errors import Overloaded


class Admission:
    def __init__(self, *, concurrency: int, max_wait: float, max_waiting: int) -> None:
        if concurrency < 1 or max_wait <= 0 or max_waiting < 0:
            raise ValueError("admission needs concurrency ≥ 1, max_wait > 0, max_waiting ≥ 0")
        self._slots = asyncio.Semaphore(concurrency)
        self._max_wait = max_wait
        self._max_waiting = max_waiting
        self._waiting = 0
        self.refused = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    def _refuse(self) -> Overloaded:
        self.refused += 1
        retry_after = self._max_wait * random.uniform(0.5, 1.5)
        return Overloaded("too many people are joining right now", retry_after=retry_after)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the slots for the body; refuse when none frees up in time."""
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise self._refuse()
        self._waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self._max_wait)
        except TimeoutError:
            raise self._refuse() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
