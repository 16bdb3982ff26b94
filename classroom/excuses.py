"""Excused absences: a parent's report in advance, or a clinic's illness note.

An excuse covers whole days; on those days the student is marked "excused" and no absence
notice is sent.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import select

from classroom import audit
from classroom.attendance_marks import Mark, MarkSource, set_mark
from classroom.errors import Forbidden, InvalidInput, NotFound
from classroom.people import children_of
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import (
    AbsenceExcuse,
    AttendanceMark,
    Enrolment,
    LessonOccurrence,
    Person,
)

MAX_EXCUSE_DAYS = 31
MAX_REASON_LENGTH = 500


class ExcuseView(msgspec.Struct, frozen=True):
    id: int
    student_id: int
    date_from: dt.date
    date_to: dt.date
    reason: str
    source: MarkSource


def _check(date_from: dt.date, date_to: dt.date, reason: str) -> str:
    if date_to < date_from:
        raise InvalidInput("'date_to' is before 'date_from'", code="bad_range")
    if (date_to - date_from).days >= MAX_EXCUSE_DAYS:
        raise InvalidInput(
            f"an excuse covers at most {MAX_EXCUSE_DAYS} days", code="range_too_long"
        )
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"give a reason of 1 to {MAX_REASON_LENGTH} characters", code="bad_reason"
        )
    return cleaned


async def report_by_parent(
    db: Database,
    principal: Principal,
    *,
    child_id: int,
    date_from: dt.date,
    date_to: dt.date,
    reason: str,
    now: dt.datetime,
) -> ExcuseView:
    """A parent reports in advance that their child will be away."""
    if principal.role is not Role.PARENT:
        raise Forbidden("only a parent reports a child's absence", code="not_a_parent")
    if child_id not in {child.id for child in await children_of(db, principal.person_id)}:
        raise NotFound("you have no such child", code="child_not_found")
    return await _add(
        db,
        child_id,
        date_from,
        date_to,
        _check(date_from, date_to, reason),
        MarkSource.PARENT,
        principal.person_id,
        now,
    )


async def clinic_note(
    db: Database,
    *,
    student_id: int,
    date_from: dt.date,
    date_to: dt.date,
    reason: str,
    now: dt.datetime,
) -> ExcuseView:
    """An illness note sent by a clinic's system through the school's integration key."""
    async with db.session() as session:
        student = await session.get(Person, student_id)
    if student is None or student.role is not Role.STUDENT:
        raise NotFound("there is no such student", code="student_not_found")
    return await _add(
        db,
        student_id,
        date_from,
        date_to,
        _check(date_from, date_to, reason),
        MarkSource.CLINIC,
        None,
        now,
    )


async def _add(
    db: Database,
    student_id: int,
    date_from: dt.date,
    date_to: dt.date,
    reason: str,
    source: MarkSource,
    reported_by: int | None,
    now: dt.datetime,
) -> ExcuseView:
    async with db.session() as session:
        excuse = AbsenceExcuse(
            student_id=student_id,
            date_from=date_from,
            date_to=date_to,
            reason=reason,
            source=source.value,
            reported_by=reported_by,
            created_at=now,
        )
        session.add(excuse)
        # Lessons already marked absent on those days become excused.
        lessons = await session.scalars(
            select(LessonOccurrence.id)
            .join(Enrolment, Enrolment.class_id == LessonOccurrence.class_id)
            .where(
                Enrolment.student_id == student_id,
                LessonOccurrence.date >= date_from,
                LessonOccurrence.date <= date_to,
            )
        )
        for lesson_id in lessons.all():
            mark = await session.get(AttendanceMark, (lesson_id, student_id))
            if mark is not None and mark.mark == Mark.ABSENT.value:
                await set_mark(
                    session,
                    lesson_id=lesson_id,
                    student_id=student_id,
                    mark=Mark.EXCUSED,
                    source=source,
                    now=now,
                )
        audit.record(
            session,
            action=f"absence_excused_{source.value}",
            actor_id=reported_by,
            subject_id=student_id,
        )
        await session.commit()
        return ExcuseView(excuse.id, student_id, date_from, date_to, reason, source)


async def excused_on(db: Database, student_ids: list[int], day: dt.date) -> set[int]:
    """Which of these students have an excuse covering the day."""
    if not student_ids:
        return set()
    async with db.session() as session:
        found = await session.scalars(
            select(AbsenceExcuse.student_id).where(
                AbsenceExcuse.student_id.in_(student_ids),
                AbsenceExcuse.date_from <= day,
                AbsenceExcuse.date_to >= day,
            )
        )
        return set(found.all())
