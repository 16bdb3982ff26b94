"""A lesson's topic and test (a test date is a lesson with a test title)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from classroom.events import EventDispatcher, LessonNoteChanged
from classroom.journal import access, history
from classroom.journal.tables import JournalLesson
from classroom.roles import Principal
from classroom.storage.database import Database


class LessonNoteBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    topic: Annotated[str, msgspec.Meta(max_length=300)] = ""
    test_title: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class LessonNote(msgspec.Struct, frozen=True):
    lesson_id: int
    topic: str
    test_title: str | None


async def set_note(
    db: Database,
    events: EventDispatcher,
    principal: Principal,
    lesson_id: int,
    body: LessonNoteBody,
    *,
    now: dt.datetime,
) -> LessonNote:
    test_title = (body.test_title or "").strip() or None
    async with db.session() as session:
        lesson = await access.lesson_to_write(session, principal, lesson_id)
        row = await session.get(JournalLesson, lesson_id)
        if row is None:
            row = JournalLesson(lesson_id=lesson_id)
            session.add(row)
        row.topic, row.test_title = body.topic.strip(), test_title
        row.updated_at, row.updated_by = now, principal.person_id
        history.record(
            session,
            at=now,
            actor_id=principal.person_id,
            lesson_id=lesson_id,
            what="lesson_noted",
            topic=row.topic,
            test_title=test_title,
        )
        event = LessonNoteChanged(lesson_id, lesson.class_id, principal.person_id)
        events.stage(session, event)
        await session.commit()
    await events.committed(event)
    return LessonNote(lesson_id, body.topic.strip(), test_title)
