"""The diary's week: a student's lessons with their join links, topics, homework with its
materials, grades with the teacher's comments, attendance marks, recordings, and the coming
tests; first, the recordings of lessons the student missed.

The diary keeps no copy of the journal: it reads the journal's and the library's public
functions and is told of changes by their events."""

from __future__ import annotations

import datetime as dt

import msgspec

from classroom import audit, timetable
from classroom.attendance_marks import Mark, MarkSource
from classroom.diary.readers import readable_students
from classroom.errors import Forbidden, NotFound
from classroom.join_links import JoinLinks
from classroom.journal.reads import GradeEntry, TestDate, entries_for, tests_of_class
from classroom.library.attachments import AttachedMaterial, attached_to
from classroom.people import ChildRef, children_of
from classroom.recording_links import MissedLesson, RecordingLink, finished_for, missed_by
from classroom.roles import Principal, Role
from classroom.rooms import RoomTimes
from classroom.storage.database import Database

WEEK = dt.timedelta(days=6)
TESTS_AHEAD = dt.timedelta(days=21)


class DiaryHomework(msgspec.Struct, frozen=True):
    text: str
    due_date: dt.date | None
    materials: list[AttachedMaterial] = []


class DiaryLesson(msgspec.Struct, frozen=True):
    id: int
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    subject: str
    teacher: str
    online: bool
    join_url: str | None = None
    topic: str = ""
    test_title: str | None = None
    homework: DiaryHomework | None = None
    grades: list[GradeEntry] = []
    mark: Mark | None = None
    mark_source: MarkSource | None = None
    materials: list[AttachedMaterial] = []
    recordings: list[RecordingLink] = []
    """Finished recordings of the lesson (for the student and their parents only)."""


class DiaryWeek(msgspec.Struct, frozen=True):
    student: ChildRef
    date_from: dt.date
    date_to: dt.date
    lessons: list[DiaryLesson]
    upcoming_tests: list[TestDate]
    missed: list[MissedLesson] = []
    """Recordings of lessons the student was marked absent or late at, finished within the
    last week: offered at the top of the diary (for the student and their parents only)."""


class Readable(msgspec.Struct, frozen=True):
    """Whose diaries the caller may read."""

    students: list[ChildRef]


async def readable(db: Database, principal: Principal) -> Readable:
    if principal.role not in (Role.STUDENT, Role.PARENT):
        raise Forbidden("the diary is for students and their families", code="no_diary")
    return Readable(await readable_students(db, principal))


async def week(
    db: Database,
    links: JoinLinks,
    principal: Principal,
    *,
    student_id: int | None,
    date_from: dt.date,
    today: dt.date,
    now: dt.datetime,
    times: RoomTimes,
) -> DiaryWeek:
    students = (await readable(db, principal)).students
    wanted = principal.person_id if student_id is None else student_id
    student = next((one for one in students if one.id == wanted), None)
    if student is None:
        raise NotFound("there is no such student among yours", code="student_not_found")
    if student.id != principal.person_id:
        async with db.session() as session:
            audit.record(
                session, action="diary_read", actor_id=principal.person_id, subject_id=student.id
            )
            await session.commit()
    as_student = Principal(student.id, Role.STUDENT, principal.school_id)
    date_to = date_from + WEEK
    plain = await timetable.lessons_for(db, as_student, date_from, date_to)
    linked = await timetable.with_join_links(db, links, as_student, plain, now=now, times=times)
    ids = [lesson.id for lesson in linked]
    entries = await entries_for(db, ids, student.id)
    attached = await attached_to(db, ids)
    watches = await _may_watch(db, principal, student.id)
    recorded = await finished_for(db, ids) if watches else {}
    lessons = []
    for lesson in linked:
        entry = entries.get(lesson.id)
        materials = attached.get(lesson.id, [])
        homework = None
        if entry is not None and entry.homework is not None:
            homework = DiaryHomework(
                entry.homework,
                entry.homework_due,
                [m for m in materials if m.purpose == "homework"],
            )
        lessons.append(
            DiaryLesson(
                id=lesson.id,
                date=lesson.date,
                starts_at=lesson.starts_at,
                ends_at=lesson.ends_at,
                subject=lesson.subject,
                teacher=lesson.teacher,
                online=lesson.online,
                join_url=lesson.join_url,
                topic=entry.topic if entry else "",
                test_title=entry.test_title if entry else None,
                homework=homework,
                grades=entry.grades if entry else [],
                mark=entry.mark if entry else None,
                mark_source=entry.mark_source if entry else None,
                materials=[m for m in materials if m.purpose == "lesson"],
                recordings=recorded.get(lesson.id, []),
            )
        )
    tests = (
        await tests_of_class(db, student.school_class.id, today, today + TESTS_AHEAD)
        if student.school_class
        else []
    )
    missed = await missed_by(db, student.id, now=now) if watches else []
    return DiaryWeek(student, date_from, date_to, lessons, tests, missed)


async def _may_watch(db: Database, principal: Principal, student_id: int) -> bool:
    """Recordings are the class's: the student and their parents see them, a trusted
    person (who reads the diary only) does not."""
    if principal.person_id == student_id:
        return True
    return any(child.id == student_id for child in await children_of(db, principal.person_id))
