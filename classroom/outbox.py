"""Domain events kept in the database until their reactions ran, once, on one node.

A service stages an event in the transaction of its change: ``OutboxEvents.stage`` adds the
``event_outbox`` row to that session, so the change and its event commit together or not at
all, and ``OutboxEvents.committed`` then wakes this node's background work, so
the request that made the change returns without waiting for the reactions (a homework for
a class of thirty is thirty diaries and sixty notices). ``OutboxRelay.run_once``, called by
every node's background work, takes waiting events under a lease, runs the local
subscribers, and deletes the row. The lease makes one node the owner of each event, so the
reactions run once in the cluster; what they produce goes to every node through the bus
(live events) or the database (notices). A node that stops mid-way leaves its leased rows
to expire and another node runs them again, which the reactions tolerate: notices are
deduplicated and a second ``diary.changed`` only reloads a page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import msgspec
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.events import (
    AttendanceChanged,
    AttendanceFinalised,
    DomainEvent,
    EventDispatcher,
    GradeChanged,
    HomeworkChanged,
    LessonNoteChanged,
    RecordingFinished,
)
from classroom.storage.database import Database
from classroom.storage.direct import DirectRead
from classroom.storage.models import EventOutbox

log = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=30)
BATCH = 50

# Every node asks every few seconds, mostly to find nothing: built once, run directly.
_DUE_EVENTS = DirectRead(
    select(EventOutbox.id)
    .where(or_(EventOutbox.lease_until.is_(None), EventOutbox.lease_until < bindparam("now")))
    .order_by(EventOutbox.id)
    .limit(BATCH)
)

AnyEvent = (
    AttendanceFinalised
    | AttendanceChanged
    | GradeChanged
    | HomeworkChanged
    | LessonNoteChanged
    | RecordingFinished
)
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode(event: DomainEvent) -> bytes:
    return _encoder.encode(event)


def decode(payload: bytes) -> DomainEvent:
    event: DomainEvent = _decoder.decode(payload)
    return event


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OutboxEvents(EventDispatcher):
    """The dispatcher the services publish to: events go to the outbox, reactions run later."""

    def __init__(
        self,
        db: Database,
        wake: Callable[[], None],
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__()
        self._db = db
        self._wake = wake
        self._clock = clock

    def stage(self, session: AsyncSession, *events: DomainEvent) -> None:
        """Add the events to the change's transaction; they are kept only if it commits."""
        now = self._clock()
        session.add_all(EventOutbox(payload=encode(event), created_at=now) for event in events)

    async def committed(self, *events: DomainEvent) -> None:
        if events:
            self._wake()

    async def publish(self, *events: DomainEvent) -> None:
        """An event with no change of its own to ride on: stored in a transaction of its own."""
        if not events:
            return
        async with self._db.session() as session:
            self.stage(session, *events)
            await session.commit()
        self._wake()


class OutboxRelay:
    """Runs the reactions of waiting events; many nodes may run one against one database."""

    def __init__(self, db: Database, node_id: str, events: EventDispatcher) -> None:
        self._db = db
        self._node_id = node_id
        self._events = events

    async def run_once(self, now: dt.datetime) -> int:
        """React to what is waiting, oldest first; return how many events were handled."""
        async with self._db.direct() as connection:
            due = [row[0] for row in await _DUE_EVENTS.rows(connection, {"now": now})]
        handled = 0
        for event_id in due:
            payload = await self._lease(event_id, now)
            if payload is None:
                continue  # another node took it
            try:
                event = decode(payload)
            except msgspec.DecodeError:
                log.exception("outbox event %s cannot be read; dropped", event_id)
            else:
                await self._events.deliver(event)
            async with self._db.session() as session:
                await session.execute(delete(EventOutbox).where(EventOutbox.id == event_id))
                await session.commit()
            handled += 1
        return handled

    async def _lease(self, event_id: int, now: dt.datetime) -> bytes | None:
        async with self._db.session() as session:
            taken = await session.execute(
                update(EventOutbox)
                .where(
                    EventOutbox.id == event_id,
                    or_(EventOutbox.lease_until.is_(None), EventOutbox.lease_until < now),
                )
                .values(lease_until=now + LEASE, lease_owner=self._node_id)
            )
            if not taken.rowcount:  # type: ignore[attr-defined]
                await session.rollback()
                return None
            payload = await session.scalar(
                select(EventOutbox.payload).where(EventOutbox.id == event_id)
            )
            await session.commit()
        return payload

    async def release(self) -> None:
        """Give back this node's leases (it is stopping) so that others need not wait."""
        async with self._db.session() as session:
            await session.execute(
                update(EventOutbox)
                .where(EventOutbox.lease_owner == self._node_id)
                .values(lease_until=None, lease_owner=None)
            )
            await session.commit()
