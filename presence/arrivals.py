"""Arrivals written together: while one batch is being stored, the next one gathers.

Under a join storm this turns a transaction per entering connection into one per batch,
without making a lone arrival wait for company.
"""

from __future__ import annotations

import asyncio
import logging

from classroom.storage.database import Database
from presence.visits import Arrival, arrive_many

log = logging.getLogger(__name__)

MAX_BATCH = 256


class Arrivals:
    """Records room visits of this node's connections in batches."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: list[tuple[Arrival, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def arrive(self, arrival: Arrival) -> bool:
        """Record a connection entering a room; ``True`` if the person was not there
        before (see ``visits.arrive_many``)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((arrival, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="visit-arrivals")
        return await asyncio.shield(future)

    async def _write(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                try:
                    firsts = await arrive_many(self._db, [arrival for arrival, _ in batch])
                except Exception as exc:
                    for _arrival, future in batch:
                        future.set_exception(exc)
                        future.exception()  # the waiter may be gone: do not warn
                    continue
                for (_arrival, future), first in zip(batch, firsts, strict=True):
                    future.set_result(first)
        finally:
            self._writer = None

    async def close(self) -> None:
        """Wait for the arrivals already queued."""
        writer = self._writer
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)
