"""Lesson rooms: who may enter the live room of a lesson occurrence."""

from __future__ import annotations

import msgspec
from sqlalchemy import select

from classroom.errors import Forbidden, NotFound
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import Enrolment, LessonOccurrence, Person, SchoolClass

MAX_CHAT_LENGTH = 2000


class Author(msgspec.Struct, frozen=True):
    id: int
    display_name: str
    role: Role


def room_channel(lesson_id: int) -> str:
    """The bus channel of a lesson's live room."""
    return f"room:{lesson_id}"


def user_channel(person_id: int) -> str:
    """The bus channel of one person's live notices."""
    return f"user:{person_id}"


async def check_entry(db: Database, principal: Principal, lesson_id: int) -> None:
    """Allow the lesson's teacher, the students of its class and the school's admin in;
    refuse everyone else. A lesson of another school is reported as not found."""
    async with db.session() as session:
        row = (
            await session.execute(
                select(
                    LessonOccurrence.teacher_id, LessonOccurrence.class_id, SchoolClass.school_id
                )
                .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
                .where(LessonOccurrence.id == lesson_id)
            )
        ).first()
        if row is None or row.school_id != principal.school_id:
            raise NotFound("there is no such lesson", code="lesson_not_found")
        if principal.role is Role.ADMIN or (
            principal.role is Role.TEACHER and row.teacher_id == principal.person_id
        ):
            return
        if principal.role is Role.STUDENT:
            enrolled = (
                await session.execute(
                    select(Enrolment.student_id).where(
                        Enrolment.student_id == principal.person_id,
                        Enrolment.class_id == row.class_id,
                    )
                )
            ).first()
            if enrolled is not None:
                return
    raise Forbidden("you are not a participant of this lesson", code="not_a_participant")


async def author(db: Database, principal: Principal) -> Author:
    """How a person appears in a room (name and role only)."""
    async with db.session() as session:
        name = await session.scalar(
            select(Person.display_name).where(Person.id == principal.person_id)
        )
    if name is None:
        raise NotFound("this account no longer exists", code="account_not_found")
    return Author(id=principal.person_id, display_name=name, role=principal.role)
