"""Who may write and read the journal: a lesson's teacher (and the school's admin)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.errors import Forbidden, NotFound
from classroom.roles import Principal, Role
from classroom.school_lessons import lesson_of_school
from classroom.storage.models import Enrolment, LessonOccurrence, SchoolClass


async def lesson_to_write(
    session: AsyncSession, principal: Principal, lesson_id: int
) -> LessonOccurrence:
    """The lesson, if the caller keeps its journal: ``Forbidden`` for roles that keep no
    journal and for another teacher's lesson, ``NotFound`` outside the caller's school."""
    if principal.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("only the lesson's teacher keeps its journal", code="not_the_teacher")
    lesson = await lesson_of_school(session, principal, lesson_id)
    if principal.role is Role.TEACHER and lesson.teacher_id != principal.person_id:
        raise Forbidden("another teacher keeps this lesson's journal", code="not_the_teacher")
    return lesson


async def check_class_subject(
    session: AsyncSession, principal: Principal, class_id: int, subject_id: int
) -> SchoolClass:
    """The class, if the caller teaches this subject there (or is the school's admin)."""
    if principal.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("journals are kept by teachers", code="not_a_teacher")
    school_class = await session.get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != principal.school_id:
        raise NotFound("there is no such class", code="class_not_found")
    if principal.role is Role.TEACHER:
        teaches = await session.scalar(
            select(LessonOccurrence.id)
            .where(
                LessonOccurrence.class_id == class_id,
                LessonOccurrence.subject_id == subject_id,
                LessonOccurrence.teacher_id == principal.person_id,
            )
            .limit(1)
        )
        if teaches is None:
            raise Forbidden("you do not teach this subject in this class", code="not_the_teacher")
    return school_class


async def student_of_lesson(
    session: AsyncSession, lesson: LessonOccurrence, student_id: int
) -> None:
    """Refuse a student who is not in the lesson's class."""
    enrolled = await session.scalar(
        select(Enrolment.student_id).where(
            Enrolment.class_id == lesson.class_id, Enrolment.student_id == student_id
        )
    )
    if enrolled is None:
        raise NotFound("this student is not in the lesson's class", code="student_not_found")
