"""The journal's public reads: what other services (the diary) may know of it."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import select

from classroom.attendance_marks import Mark, MarkSource
from classroom.journal.tables import JournalGrade, JournalHomework, JournalLesson
from classroom.storage.database import Database
from classroom.storage.models import AttendanceMark, LessonOccurrence, Subject


class GradeEntry(msgspec.Struct, frozen=True):
    id: int
    value: int
    weight: int
    comment: str
    version: int


class LessonEntry(msgspec.Struct, frozen=True):
    """One student's journal facts of one lesson."""

    topic: str = ""
    test_title: str | None = None
    homework: str | None = None
    homework_due: dt.date | None = None
    mark: Mark | None = None
    mark_source: MarkSource | None = None
    grades: list[GradeEntry] = []


class TestDate(msgspec.Struct, frozen=True):
    lesson_id: int
    date: dt.date
    subject: str
    title: str


async def entries_for(
    db: Database, lesson_ids: list[int], student_id: int | None
) -> dict[int, LessonEntry]:
    """Topics, tests and homework of the lessons, with the student's marks and grades
    (grades in force only: a cancelled grade is not shown)."""
    found: dict[int, dict[str, object]] = {lesson: {} for lesson in lesson_ids}
    if not lesson_ids:
        return {}
    async with db.session() as session:
        for note in await session.scalars(
            select(JournalLesson).where(JournalLesson.lesson_id.in_(lesson_ids))
        ):
            found[note.lesson_id].update(topic=note.topic, test_title=note.test_title)
        for work in await session.scalars(
            select(JournalHomework).where(JournalHomework.lesson_id.in_(lesson_ids))
        ):
            found[work.lesson_id].update(homework=work.text, homework_due=work.due_date)
        if student_id is not None:
            for mark in await session.scalars(
                select(AttendanceMark).where(
                    AttendanceMark.lesson_id.in_(lesson_ids),
                    AttendanceMark.student_id == student_id,
                )
            ):
                found[mark.lesson_id].update(
                    mark=Mark(mark.mark), mark_source=MarkSource(mark.source)
                )
            for grade in await session.scalars(
                select(JournalGrade)
                .where(
                    JournalGrade.lesson_id.in_(lesson_ids),
                    JournalGrade.student_id == student_id,
                    JournalGrade.cancelled.is_(False),
                )
                .order_by(JournalGrade.id)
            ):
                grades = found[grade.lesson_id].setdefault("grades", [])
                grades.append(  # type: ignore[attr-defined]
                    GradeEntry(grade.id, grade.value, grade.weight, grade.comment, grade.version)
                )
    return {lesson: LessonEntry(**values) for lesson, values in found.items()}  # type: ignore[arg-type]


async def tests_of_class(
    db: Database, class_id: int, date_from: dt.date, date_to: dt.date
) -> list[TestDate]:
    async with db.session() as session:
        rows = await session.execute(
            select(
                LessonOccurrence.id, LessonOccurrence.date, Subject.name, JournalLesson.test_title
            )
            .join(JournalLesson, JournalLesson.lesson_id == LessonOccurrence.id)
            .join(Subject, Subject.id == LessonOccurrence.subject_id)
            .where(
                LessonOccurrence.class_id == class_id,
                LessonOccurrence.date >= date_from,
                LessonOccurrence.date <= date_to,
                JournalLesson.test_title.is_not(None),
            )
            .order_by(LessonOccurrence.starts_at)
        )
        return [
            TestDate(lid, date, subject, title or "") for lid, date, subject, title in rows.all()
        ]
