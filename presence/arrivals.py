"""Arrivals of connections in rooms, written in batches (see ``classroom.batches``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from classroom.batches import MAX_BATCH, GroupWriter
from classroom.storage.database import Database
from presence.visits import Arrival, arrive_many

LINGER = 0.02
"""Seconds an arrival may wait for others while arrivals keep coming (see
``classroom.batches``): a storm of 250 joins a second writes five visits per statement
instead of one, and a join waits at most this much longer for its reply."""

ENOUGH = 8
"""Arrivals that are written without waiting longer: fewer than the joins a node admits at
once (16 by default), so that a node at its capacity, whose joins wait in its admission
queue, does not also wait for its linger."""


class Arrivals:
    """Records room visits of this node's connections in batches."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH, linger: float = LINGER) -> None:
        async def write(arrivals: Sequence[Arrival]) -> list[bool | BaseException]:
            return list(await arrive_many(db, arrivals))

        self._writer: GroupWriter[Arrival, bool] = GroupWriter(
            write, max_batch=max_batch, linger=linger, enough=ENOUGH
        )
        self._pending: dict[str, asyncio.Future[bool]] = {}  # by connection

    async def arrive(self, arrival: Arrival) -> bool:
        """Record a connection entering a room; ``True`` if the person was not there
        before (see ``visits.arrive_many``)."""
        future = self._writer.enqueue(arrival)
        connection = arrival.connection_id
        self._pending[connection] = future
        try:
            return await asyncio.shield(future)
        finally:
            if self._pending.get(connection) is future:
                del self._pending[connection]

    async def settled(self, connection_id: str) -> None:
        """Wait until the connection's arrival being written (if any) is written or has
        failed: its departure must not be written before it."""
        future = self._pending.get(connection_id)
        if future is not None:
            await asyncio.wait([future])

    async def close(self) -> None:
        """Wait for the arrivals already queued."""
        await self._writer.close()
