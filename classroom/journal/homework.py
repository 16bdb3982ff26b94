"""Homework set at a lesson: its text and due date; attached materials live in the library."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.errors import InvalidInput
from classroom.events import EventDispatcher, HomeworkChanged
from classroom.journal import access, history
from classroom.journal.tables import JournalHomework
from classroom.roles import Principal
from classroom.storage.database import Database
from classroom.storage.models import LessonOccurrence

MAX_MATERIALS = 10


class HomeworkBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    due_date: dt.date | None = None
    material_ids: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]],
        msgspec.Meta(max_length=MAX_MATERIALS),
    ] = []


class Homework(msgspec.Struct, frozen=True):
    lesson_id: int
    text: str
    due_date: dt.date | None
    updated_at: dt.datetime


async def check_homework(
    db: Database, principal: Principal, lesson_id: int, body: HomeworkBody
) -> None:
    """Refuse what ``set_homework`` would refuse, before anything else is changed."""
    async with db.session() as session:
        await _checked(session, principal, lesson_id, body)


async def _checked(
    session: AsyncSession, principal: Principal, lesson_id: int, body: HomeworkBody
) -> LessonOccurrence:
    if not body.text.strip():
        raise InvalidInput("write the homework", code="empty_homework")
    lesson = await access.lesson_to_write(session, principal, lesson_id)
    if body.due_date is not None and body.due_date < lesson.date:
        raise InvalidInput("the homework is due before the lesson", code="bad_due_date")
    return lesson


async def set_homework(
    db: Database,
    events: EventDispatcher,
    principal: Principal,
    lesson_id: int,
    body: HomeworkBody,
    *,
    now: dt.datetime,
) -> Homework:
    text = body.text.strip()
    async with db.session() as session:
        lesson = await _checked(session, principal, lesson_id, body)
        row = await session.get(JournalHomework, lesson_id)
        if row is None:
            row = JournalHomework(lesson_id=lesson_id)
            session.add(row)
        row.text, row.due_date = text, body.due_date
        row.updated_at, row.updated_by = now, principal.person_id
        history.record(
            session,
            at=now,
            actor_id=principal.person_id,
            lesson_id=lesson_id,
            what="homework_set",
            text=text[:200],
            due_date=None if body.due_date is None else body.due_date.isoformat(),
            material_ids=list(body.material_ids),
        )
        event = HomeworkChanged(lesson_id, lesson.class_id, principal.person_id)
        events.stage(session, event)
        await session.commit()
    await events.committed(event)
    return Homework(lesson_id, text, body.due_date, now)
