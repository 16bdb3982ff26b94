"""A lesson looked up within the caller's school: other schools' lessons do not exist for them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.errors import NotFound
from classroom.roles import Principal
from classroom.storage.models import LessonOccurrence, SchoolClass


async def lesson_of_school(
    session: AsyncSession, principal: Principal, lesson_id: int
) -> LessonOccurrence:
    """The lesson, or ``NotFound`` when there is none in the caller's school."""
    row = (
        await session.execute(
            select(LessonOccurrence, SchoolClass.school_id)
            .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
            .where(LessonOccurrence.id == lesson_id)
        )
    ).first()
    if row is None or row[1] != principal.school_id:
        raise NotFound("there is no such lesson", code="lesson_not_found")
    lesson: LessonOccurrence = row[0]
    return lesson
