"""Departures of connections from rooms, written in batches (see ``classroom.batches``):
at a lesson's end every member leaves within seconds."""

from __future__ import annotations

from collections.abc import Sequence

from classroom.batches import MAX_BATCH, GroupWriter
from classroom.storage.database import Database
from presence.arrivals import Arrivals
from presence.visits import Departure, Leaving, depart_many


class Departures:
    """Closes room visits of this node's connections in batches."""

    def __init__(
        self, db: Database, *, max_batch: int = MAX_BATCH, after: Arrivals | None = None
    ) -> None:
        """``after``: the arrivals of the same connections, written before their departures."""
        self._arrivals = after

        async def write(leavings: Sequence[Leaving]) -> list[list[Departure] | BaseException]:
            return list(await depart_many(db, leavings))

        self._writer: GroupWriter[Leaving, list[Departure]] = GroupWriter(
            write, max_batch=max_batch
        )

    async def depart(self, leaving: Leaving) -> list[Departure]:
        """Close the visits a connection leaves; for each, whether the person is still in
        the room on another device (see ``visits.depart_many``)."""
        if self._arrivals is not None:
            await self._arrivals.settled(leaving.connection_id)
        return await self._writer.submit(leaving)

    async def close(self) -> None:
        """Wait for the departures already queued."""
        await self._writer.close()
