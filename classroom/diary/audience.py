"""Which students a journal event concerns (the diary's view of it)."""

from __future__ import annotations

from sqlalchemy import select

from classroom.storage.database import Database
from classroom.storage.models import Enrolment, LessonOccurrence


async def students_of_lesson(db: Database, lesson_id: int) -> list[int]:
    async with db.session() as session:
        rows = await session.scalars(
            select(Enrolment.student_id)
            .join(LessonOccurrence, LessonOccurrence.class_id == Enrolment.class_id)
            .where(LessonOccurrence.id == lesson_id)
            .order_by(Enrolment.student_id)
        )
        return list(rows.all())
