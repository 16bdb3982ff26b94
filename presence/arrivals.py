"""Arrivals of connections in rooms, written in batches (see ``classroom.batches``)."""

from __future__ import annotations

from collections.abc import Sequence

from classroom.batches import MAX_BATCH, GroupWriter
from classroom.storage.database import Database
from presence.visits import Arrival, arrive_many

ENOUGH = 8
"""Arrivals that are written without waiting longer: fewer than the joins a node admits at
once (16 by default), so that a node at its capacity, whose joins wait in its admission
queue, does not also wait for its linger."""


class Arrivals:
    """Records room visits of this node's connections in batches (lingering ``linger``
    seconds for company, see ``classroom.batches``)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH, linger: float = 0.0) -> None:
        async def write(arrivals: Sequence[Arrival]) -> list[bool | BaseException]:
            return list(await arrive_many(db, arrivals))

        self._writer: GroupWriter[Arrival, bool] = GroupWriter(
            write,
            max_batch=max_batch,
            linger=linger,
            enough=ENOUGH,
            key=lambda arrival: arrival.connection_id,
        )

    async def arrive(self, arrival: Arrival) -> bool:
        """Record a connection entering a room; ``True`` if the person was not there
        before (see ``visits.arrive_many``)."""
        return await self._writer.submit(arrival)

    async def settled(self, connection_id: str) -> None:
        """Wait until the connection's arrival being written (if any) is written or has
        failed: its departure must not be written before it."""
        await self._writer.settled(connection_id)

    async def close(self) -> None:
        """Wait for the arrivals already queued."""
        await self._writer.close()
