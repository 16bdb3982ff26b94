"""Where recordings show up outside the lesson: links on the lessons of the journal and the
diary, and the recordings offered first to the students who missed the lesson.

Reads only, of the ``recording`` table; who may follow a link is decided when it is opened
(by the recordings' access rules). Here in ``classroom`` so that the journal and the diary
need nothing of ``recordings``."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import select

from classroom.storage.database import Database
from classroom.storage.models import (
    AttendanceMark,
    Guardianship,
    LessonOccurrence,
    Recording,
    Subject,
)

MISSED_MARKS = ("absent", "late", "excused")
"""The attendance marks of a student who missed (some of) the lesson."""

OFFERED_FOR = dt.timedelta(days=7)
"""How long a recording is offered at the top of the diary to those who missed the lesson."""


class RecordingLink(msgspec.Struct, frozen=True):
    id: int
    started_at: dt.datetime
    duration: float
    """Seconds."""
    page: str
    """The playback page (``/recording/<id>``)."""


class MissedLesson(msgspec.Struct, frozen=True):
    """A lesson the student was marked absent or late at, which has a recording."""

    lesson_id: int
    date: dt.date
    starts_at: dt.datetime
    subject: str
    mark: str
    recordings: list[RecordingLink]


def _link(row: Recording) -> RecordingLink:
    return RecordingLink(row.id, row.started_at, row.duration, f"/recording/{row.id}")


async def finished_for(db: Database, lesson_ids: list[int]) -> dict[int, list[RecordingLink]]:
    """The finished recordings of these lessons, oldest first, by lesson."""
    found: dict[int, list[RecordingLink]] = {}
    if not lesson_ids:
        return found
    async with db.session() as session:
        rows = await session.scalars(
            select(Recording)
            .where(Recording.lesson_id.in_(lesson_ids), Recording.ended_at.is_not(None))
            .order_by(Recording.started_at, Recording.id)
        )
        for row in rows:
            found.setdefault(row.lesson_id, []).append(_link(row))
    return found


async def missed_by(db: Database, student_id: int, *, now: dt.datetime) -> list[MissedLesson]:
    """Recordings finished within ``OFFERED_FOR`` of lessons the student missed, newest
    lesson first."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Recording, LessonOccurrence, Subject.name, AttendanceMark.mark)
                .join(LessonOccurrence, LessonOccurrence.id == Recording.lesson_id)
                .join(Subject, Subject.id == LessonOccurrence.subject_id)
                .join(
                    AttendanceMark,
                    (AttendanceMark.lesson_id == Recording.lesson_id)
                    & (AttendanceMark.student_id == student_id),
                )
                .where(
                    AttendanceMark.mark.in_(MISSED_MARKS),
                    Recording.ended_at.is_not(None),
                    Recording.ended_at >= now - OFFERED_FOR,
                )
                .order_by(LessonOccurrence.starts_at.desc(), Recording.started_at)
            )
        ).all()
    missed: dict[int, MissedLesson] = {}
    for row, lesson, subject, mark in rows:
        known = missed.get(lesson.id)
        if known is None:
            known = missed[lesson.id] = MissedLesson(
                lesson.id, lesson.date, lesson.starts_at, subject, mark, []
            )
        known.recordings.append(_link(row))
    return list(missed.values())


async def missed_audience(db: Database, lesson_id: int) -> dict[int, list[int]]:
    """Who to tell that a recording of the lesson is ready: each student marked absent or
    late there, and each of their parents, with the students of theirs concerned."""
    audience: dict[int, list[int]] = {}
    async with db.session() as session:
        students = (
            await session.scalars(
                select(AttendanceMark.student_id)
                .where(
                    AttendanceMark.lesson_id == lesson_id,
                    AttendanceMark.mark.in_(MISSED_MARKS),
                )
                .order_by(AttendanceMark.student_id)
            )
        ).all()
        if not students:
            return audience
        parents = (
            await session.execute(
                select(Guardianship.parent_id, Guardianship.child_id).where(
                    Guardianship.child_id.in_(students)
                )
            )
        ).all()
    for student in students:
        audience.setdefault(student, []).append(student)
    for parent, child in parents:
        audience.setdefault(parent, []).append(child)
    return audience
