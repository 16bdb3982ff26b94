"""Absence detection: minutes after the start of a live online lesson, every enrolled
student who has not come and has no excuse is marked absent and their parents are told.
A late arrival turns the mark into "late" and tells them again.

A lesson is checked once: the check claims it in the same transaction that writes the
marks and queues the notices, so two nodes never both check it and a stop half-way leaves
nothing half-done. A lesson whose teacher never came is not checked (no lesson was held).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import bindparam, select, update

from classroom.attendance_marks import Mark, MarkSource, set_presence_marks
from classroom.excuses import excused_on
from classroom.rooms import LessonFacts, Room, RoomTimes, load_room
from classroom.storage.database import Database
from classroom.storage.direct import DirectRead
from classroom.storage.models import (
    AttendanceMark,
    Enrolment,
    LessonOccurrence,
    LessonRoom,
    SchoolClass,
)
from presence import notices
from presence.visits import visits_of

log = logging.getLogger(__name__)

LOOK_BACK = dt.timedelta(days=1)


# Every node asks every few seconds, mostly to find nothing: built once, run directly.
_DUE_LESSONS = DirectRead(
    select(LessonOccurrence.id, SchoolClass.school_id)
    .join(LessonRoom, LessonRoom.lesson_id == LessonOccurrence.id)
    .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
    .where(
        LessonOccurrence.online.is_(True),
        LessonRoom.live_at.is_not(None),
        LessonRoom.absence_checked_at.is_(None),
        LessonOccurrence.starts_at <= bindparam("started_by"),
        LessonOccurrence.starts_at >= bindparam("started_since"),
    )
)


async def check_due_lessons(db: Database, *, now: dt.datetime, times: RoomTimes) -> list[int]:
    """Check every lesson that is due; return the ids of those this call checked."""
    async with db.direct() as connection:
        due = await _DUE_LESSONS.rows(
            connection,
            {"started_by": now - times.absence_after, "started_since": now - LOOK_BACK},
        )
    checked = []
    for lesson_id, school_id in due:
        room = await load_room(db, lesson_id, school_id)
        if await _check(db, room, now=now, times=times):
            checked.append(lesson_id)
    return checked


async def _check(db: Database, room: Room, *, now: dt.datetime, times: RoomTimes) -> bool:
    lesson = room.lesson
    async with db.session() as session:
        claimed = await session.execute(
            update(LessonRoom)
            .where(LessonRoom.lesson_id == lesson.id, LessonRoom.absence_checked_at.is_(None))
            .values(absence_checked_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            await session.rollback()
            return False
        students = list(
            (
                await session.scalars(
                    select(Enrolment.student_id).where(Enrolment.class_id == lesson.class_id)
                )
            ).all()
        )
        visits = await visits_of(db, lesson.id, students)
        excused = await excused_on(db, students, lesson.date)
        decided: dict[int, Mark] = {}
        for student_id in students:
            seen = visits.get(student_id)
            if seen:
                first = min(joined for joined, _left, _seen in seen)
                late = first > lesson.starts_at + times.absence_after
                decided[student_id] = Mark.LATE if late else Mark.PRESENT
            elif student_id in excused:
                decided[student_id] = Mark.EXCUSED
            else:
                decided[student_id] = Mark.ABSENT
        applied = await set_presence_marks(session, lesson_id=lesson.id, marks=decided, now=now)
        # A mark the teacher set by hand stays, and tells nobody anything.
        absent = [student for student, mark in applied.items() if mark is Mark.ABSENT]
        await notices.queue_many(session, kind="absent", student_ids=absent, lesson=lesson, now=now)
        await session.commit()
    log.info("lesson %d checked: %d of %d absent", lesson.id, len(absent), len(students))
    return True


CLOCK_SKEW = dt.timedelta(seconds=5)


def may_have_run(lesson: LessonFacts, now: dt.datetime, times: RoomTimes) -> bool:
    """Whether the lesson's check may have run by ``now`` on any node (whose clocks may be a
    few seconds ahead); before that an arriving student needs no look at the marks."""
    return now + CLOCK_SKEW >= lesson.starts_at + times.absence_after


async def student_arrived(
    db: Database, lesson: LessonFacts, student_id: int, *, now: dt.datetime
) -> bool:
    """After the check, an arriving student marked absent becomes late and the parents are
    told; ``True`` if that happened."""
    async with db.session() as session:
        room = await session.get(LessonRoom, lesson.id)
        if room is None or room.absence_checked_at is None:
            return False
        mark = await session.get(AttendanceMark, (lesson.id, student_id))
        if mark is None or (mark.mark, mark.source) != (Mark.ABSENT, MarkSource.PRESENCE):
            return False
        mark.mark, mark.updated_at = Mark.LATE.value, now
        await notices.queue(session, kind="late", student_id=student_id, lesson=lesson, now=now)
        await session.commit()
    return True
