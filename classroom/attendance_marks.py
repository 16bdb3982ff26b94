"""The journal's attendance marks: present, late, absent or excused, with their source.

Marks made by presence (``presence``) never overwrite a mark a teacher set by hand or an
excuse; an excuse overwrites an automatic absence.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.storage.models import AttendanceMark


class Mark(enum.StrEnum):
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    EXCUSED = "excused"


class MarkSource(enum.StrEnum):
    PRESENCE = "presence"
    TEACHER = "teacher"
    PARENT = "parent"
    CLINIC = "clinic"


async def marks_of(session: AsyncSession, lesson_id: int) -> dict[int, tuple[Mark, MarkSource]]:
    rows = await session.execute(
        select(AttendanceMark.student_id, AttendanceMark.mark, AttendanceMark.source).where(
            AttendanceMark.lesson_id == lesson_id
        )
    )
    return {student: (Mark(mark), MarkSource(source)) for student, mark, source in rows.all()}


async def set_mark(
    session: AsyncSession,
    *,
    lesson_id: int,
    student_id: int,
    mark: Mark,
    source: MarkSource,
    now: dt.datetime,
) -> Mark | None:
    """Set a mark unless a stronger source holds it; return the mark it replaced."""
    row = await session.get(AttendanceMark, (lesson_id, student_id))
    if row is None:
        session.add(
            AttendanceMark(
                lesson_id=lesson_id,
                student_id=student_id,
                mark=mark.value,
                source=source.value,
                updated_at=now,
            )
        )
        return None
    previous = Mark(row.mark)
    if source is MarkSource.PRESENCE and row.source != MarkSource.PRESENCE.value:
        return previous
    row.mark, row.source, row.updated_at = mark.value, source.value, now
    return previous


async def set_presence_marks(
    session: AsyncSession, *, lesson_id: int, marks: Mapping[int, Mark], now: dt.datetime
) -> dict[int, Mark]:
    """Set presence's marks of many students of a lesson at once (a read, an insert and an
    update at most); a mark that a teacher, parent or clinic set stays. Return the marks
    that were set."""
    held = await marks_of(session, lesson_id)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    applied: dict[int, Mark] = {}
    for student_id, mark in marks.items():
        current = held.get(student_id)
        if current is not None and current[1] is not MarkSource.PRESENCE:
            continue
        row: dict[str, Any] = {
            "lesson_id": lesson_id,
            "student_id": student_id,
            "mark": mark.value,
            "source": MarkSource.PRESENCE.value,
            "updated_at": now,
        }
        (new_rows if current is None else changed_rows).append(row)
        applied[student_id] = mark
    if new_rows:
        await session.execute(insert(AttendanceMark), new_rows)
    if changed_rows:
        await session.execute(update(AttendanceMark), changed_rows)
    return applied
