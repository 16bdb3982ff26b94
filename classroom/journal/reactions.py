"""What the journal does when other services tell it something."""

from __future__ import annotations

from classroom.events import AttendanceFinalised
from classroom.journal import history
from classroom.storage.database import Database


async def attendance_finalised(db: Database, event: AttendanceFinalised) -> None:
    """Presence finished the lesson's attendance: the journal's history says so."""
    async with db.session() as session:
        history.record(
            session, at=event.at, actor_id=None, lesson_id=event.lesson_id, what="attendance_final"
        )
        await session.commit()
