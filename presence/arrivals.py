"""Arrivals of connections in rooms, written in batches (see ``classroom.batches``)."""

from __future__ import annotations

from collections.abc import Sequence

from classroom.batches import MAX_BATCH, GroupWriter
from classroom.storage.database import Database
from presence.visits import Arrival, arrive_many


class Arrivals:
    """Records room visits of this node's connections in batches."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        async def write(arrivals: Sequence[Arrival]) -> list[bool | BaseException]:
            return list(await arrive_many(db, arrivals))

        self._writer: GroupWriter[Arrival, bool] = GroupWriter(write, max_batch=max_batch)

    async def arrive(self, arrival: Arrival) -> bool:
        """Record a connection entering a room; ``True`` if the person was not there
        before (see ``visits.arrive_many``)."""
        return await self._writer.submit(arrival)

    async def close(self) -> None:
        """Wait for the arrivals already queued."""
        await self._writer.close()
