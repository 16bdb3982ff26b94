"""The teacher's attendance marks: set by hand over presence's, kept in the history."""

from __future__ import annotations

import datetime as dt

import msgspec

from classroom.attendance_marks import Mark, MarkSource, set_mark
from classroom.events import AttendanceChanged, EventDispatcher
from classroom.journal import access, history
from classroom.roles import Principal
from classroom.storage.database import Database


class MarkBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    mark: Mark


class MarkView(msgspec.Struct, frozen=True):
    lesson_id: int
    student_id: int
    mark: Mark
    source: MarkSource


async def set_by_teacher(
    db: Database,
    events: EventDispatcher,
    principal: Principal,
    lesson_id: int,
    student_id: int,
    mark: Mark,
    *,
    now: dt.datetime,
) -> MarkView:
    async with db.session() as session:
        lesson = await access.lesson_to_write(session, principal, lesson_id)
        await access.student_of_lesson(session, lesson, student_id)
        previous = await set_mark(
            session,
            lesson_id=lesson_id,
            student_id=student_id,
            mark=mark,
            source=MarkSource.TEACHER,
            now=now,
        )
        history.record(
            session,
            at=now,
            actor_id=principal.person_id,
            lesson_id=lesson_id,
            student_id=student_id,
            what="attendance_marked",
            mark=mark.value,
            previous=None if previous is None else previous.value,
        )
        event = AttendanceChanged(lesson_id, student_id, mark.value, principal.person_id)
        events.stage(session, event)
        await session.commit()
    await events.committed(event)
    return MarkView(lesson_id, student_id, mark, MarkSource.TEACHER)
