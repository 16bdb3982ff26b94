"""The journal page's grid: a class's lessons of one subject × its students, with marks,
grades, topics, homework and tests."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import select

from classroom.attendance_marks import Mark, MarkSource
from classroom.errors import Forbidden, NotFound
from classroom.journal import access, grades
from classroom.journal.grades import GradeView
from classroom.journal.tables import JournalGrade, JournalHomework, JournalLesson
from classroom.library.attachments import AttachedMaterial, attached_to
from classroom.people import ClassRef
from classroom.recording_links import RecordingLink, finished_for
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import (
    AttendanceMark,
    Enrolment,
    LessonOccurrence,
    Person,
    SchoolClass,
    Subject,
)
from classroom.timetable import check_range


class SubjectRef(msgspec.Struct, frozen=True):
    id: int
    name: str


class ClassSubject(msgspec.Struct, frozen=True):
    school_class: ClassRef
    subject: SubjectRef


class ClassSubjects(msgspec.Struct, frozen=True):
    journals: list[ClassSubject]


class HomeworkView(msgspec.Struct, frozen=True):
    text: str
    due_date: dt.date | None
    materials: list[AttachedMaterial] = []


class GridLesson(msgspec.Struct, frozen=True):
    id: int
    date: dt.date
    starts_at: dt.datetime
    online: bool
    topic: str = ""
    test_title: str | None = None
    homework: HomeworkView | None = None
    materials: list[AttachedMaterial] = []
    recordings: list[RecordingLink] = []
    """Finished recordings of the lesson, oldest first."""


class GridStudent(msgspec.Struct, frozen=True):
    id: int
    display_name: str


class GridMark(msgspec.Struct, frozen=True):
    lesson_id: int
    student_id: int
    mark: Mark
    source: MarkSource


class JournalGrid(msgspec.Struct, frozen=True):
    school_class: ClassRef
    subject: SubjectRef
    date_from: dt.date
    date_to: dt.date
    lessons: list[GridLesson]
    students: list[GridStudent]
    marks: list[GridMark]
    grades: list[GradeView]


async def journals_of(db: Database, principal: Principal) -> ClassSubjects:
    """The (class, subject) journals the caller keeps."""
    if principal.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("journals are kept by teachers", code="not_a_teacher")
    statement = (
        select(SchoolClass.id, SchoolClass.name, Subject.id, Subject.name)
        .join(LessonOccurrence, LessonOccurrence.class_id == SchoolClass.id)
        .join(Subject, Subject.id == LessonOccurrence.subject_id)
        .where(SchoolClass.school_id == principal.school_id)
        .distinct()
        .order_by(SchoolClass.name, Subject.name)
    )
    if principal.role is Role.TEACHER:
        statement = statement.where(LessonOccurrence.teacher_id == principal.person_id)
    async with db.session() as session:
        rows = (await session.execute(statement)).all()
    return ClassSubjects(
        [
            ClassSubject(ClassRef(cid, cname), SubjectRef(sid, sname))
            for cid, cname, sid, sname in rows
        ]
    )


async def grid(
    db: Database,
    principal: Principal,
    *,
    class_id: int,
    subject_id: int,
    date_from: dt.date,
    date_to: dt.date,
) -> JournalGrid:
    check_range(date_from, date_to)
    async with db.session() as session:
        school_class = await access.check_class_subject(session, principal, class_id, subject_id)
        subject = await session.get(Subject, subject_id)
        if subject is None or subject.school_id != principal.school_id:
            raise NotFound("there is no such subject", code="subject_not_found")
        lessons = (
            await session.scalars(
                select(LessonOccurrence)
                .where(
                    LessonOccurrence.class_id == class_id,
                    LessonOccurrence.subject_id == subject_id,
                    LessonOccurrence.date >= date_from,
                    LessonOccurrence.date <= date_to,
                )
                .order_by(LessonOccurrence.starts_at)
            )
        ).all()
        ids = [lesson.id for lesson in lessons]
        students = (
            await session.execute(
                select(Person.id, Person.display_name)
                .join(Enrolment, Enrolment.student_id == Person.id)
                .where(Enrolment.class_id == class_id)
                .order_by(Person.display_name, Person.id)
            )
        ).all()
        notes = {
            n.lesson_id: n
            for n in await session.scalars(
                select(JournalLesson).where(JournalLesson.lesson_id.in_(ids))
            )
        }
        works = {
            w.lesson_id: w
            for w in await session.scalars(
                select(JournalHomework).where(JournalHomework.lesson_id.in_(ids))
            )
        }
        marks = [
            GridMark(m.lesson_id, m.student_id, Mark(m.mark), MarkSource(m.source))
            for m in await session.scalars(
                select(AttendanceMark).where(AttendanceMark.lesson_id.in_(ids))
            )
        ]
        grade_rows = [
            grades.view(g)
            for g in await session.scalars(
                select(JournalGrade)
                .where(JournalGrade.lesson_id.in_(ids))
                .order_by(JournalGrade.id)
            )
        ]
    attached = await attached_to(db, ids)
    recorded = await finished_for(db, ids)
    columns = []
    for lesson in lessons:
        note, work = notes.get(lesson.id), works.get(lesson.id)
        materials = attached.get(lesson.id, [])
        homework = None
        if work is not None:
            homework = HomeworkView(
                work.text, work.due_date, [m for m in materials if m.purpose == "homework"]
            )
        columns.append(
            GridLesson(
                id=lesson.id,
                date=lesson.date,
                starts_at=lesson.starts_at,
                online=lesson.online,
                topic=note.topic if note else "",
                test_title=note.test_title if note else None,
                homework=homework,
                materials=[m for m in materials if m.purpose == "lesson"],
                recordings=recorded.get(lesson.id, []),
            )
        )
    return JournalGrid(
        school_class=ClassRef(school_class.id, school_class.name),
        subject=SubjectRef(subject.id, subject.name),
        date_from=date_from,
        date_to=date_to,
        lessons=columns,
        students=[GridStudent(sid, name) for sid, name in students],
        marks=marks,
        grades=grade_rows,
    )
