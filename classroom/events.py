"""Domain events between the linked services (journal, diary, library).

A service stages what happened in the transaction that makes the change (``stage``, before
the commit) and tells the dispatcher once it committed (``committed``); other services
subscribe by event type. Services never read or write each other's tables: they react to
events and call each other's public functions. This dispatcher delivers in-process, after
the commit; the server uses ``classroom.outbox.OutboxEvents``, which writes each event to the
database in the change's own transaction (so the change and its event commit together, or
neither) and has one node of the cluster run its reactions in the background. Events are
not relayed over the bus: every reaction writes to the database or publishes through the bus
itself, so running it on one node reaches readers on all of them, and running it on every
node would notify twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


class DomainEvent(msgspec.Struct, frozen=True, tag=True):
    """Base of every event; ``tag`` names the event in the bus encoding."""


class AttendanceFinalised(DomainEvent, frozen=True, tag="attendance.finalised"):
    lesson_id: int
    at: dt.datetime


class AttendanceChanged(DomainEvent, frozen=True, tag="attendance.changed"):
    lesson_id: int
    student_id: int
    mark: str
    actor_id: int


class GradeChanged(DomainEvent, frozen=True, tag="grade.changed"):
    grade_id: int
    lesson_id: int
    student_id: int
    version: int
    value: int | None
    actor_id: int


class HomeworkChanged(DomainEvent, frozen=True, tag="homework.changed"):
    lesson_id: int
    class_id: int
    actor_id: int


class LessonNoteChanged(DomainEvent, frozen=True, tag="lesson_note.changed"):
    lesson_id: int
    class_id: int
    actor_id: int


class RecordingFinished(DomainEvent, frozen=True, tag="recording.finished"):
    recording_id: int
    lesson_id: int


Handler = Callable[[Any], Awaitable[None]]


class EventDispatcher:
    """Subscribers by event type; a failing subscriber is logged and does not stop others."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)

    def subscribe(self, kind: type[DomainEvent], handler: Handler) -> None:
        self._handlers[kind].append(handler)

    async def publish(self, *events: DomainEvent) -> None:
        """Deliver to the subscribers now (for a change that has no transaction of its own)."""
        for event in events:
            await self.deliver(event)

    def stage(self, session: AsyncSession, *events: DomainEvent) -> None:
        """Called in the change's transaction, before its commit. In-process delivery keeps
        nothing here: the reactions run in ``committed``, after the change is visible."""

    async def committed(self, *events: DomainEvent) -> None:
        """Called once the transaction that staged these events committed."""
        await self.publish(*events)

    async def deliver(self, event: DomainEvent) -> None:
        for handler in self._handlers.get(type(event), []):
            try:
                await handler(event)
            except Exception:
                log.exception("subscriber of %s failed", type(event).__name__)
