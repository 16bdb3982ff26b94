"""The journal's change history: every write leaves an entry (who, when, what)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.journal.tables import JournalChange
from classroom.storage.database import Database

MAX_PAGE = 200


class ChangeView(msgspec.Struct, frozen=True):
    id: int
    at: dt.datetime
    actor_id: int | None
    lesson_id: int
    student_id: int | None
    what: str
    detail: dict[str, Any]


class ChangePage(msgspec.Struct, frozen=True):
    changes: list[ChangeView]
    next_offset: int | None = None


def record(
    session: AsyncSession,
    *,
    at: dt.datetime,
    actor_id: int | None,
    lesson_id: int,
    what: str,
    student_id: int | None = None,
    **detail: Any,
) -> None:
    session.add(
        JournalChange(
            at=at,
            actor_id=actor_id,
            lesson_id=lesson_id,
            student_id=student_id,
            what=what,
            detail=msgspec.json.encode(detail).decode(),
        )
    )


async def changes_of(db: Database, lesson_ids: list[int], *, limit: int, offset: int) -> ChangePage:
    """Changes of these lessons, newest first, a page at a time."""
    limit = max(1, min(limit, MAX_PAGE))
    async with db.session() as session:
        rows = (
            await session.scalars(
                select(JournalChange)
                .where(JournalChange.lesson_id.in_(lesson_ids))
                .order_by(JournalChange.id.desc())
                .offset(offset)
                .limit(limit + 1)
            )
        ).all()
    views = [
        ChangeView(
            id=row.id,
            at=row.at,
            actor_id=row.actor_id,
            lesson_id=row.lesson_id,
            student_id=row.student_id,
            what=row.what,
            detail=msgspec.json.decode(row.detail or "{}"),
        )
        for row in rows[:limit]
    ]
    return ChangePage(views, offset + limit if len(rows) > limit else None)
