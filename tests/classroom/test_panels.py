"""Classroom panels: a code pairs a panel with the teacher's current lesson, once, and the
binding ends with the lesson."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from classroom import panels, rooms
from classroom.demo import add_lesson
from classroom.errors import Forbidden, NotFound
from classroom.storage.database import Database
from classroom.storage.models import PanelBinding
from tests.conftest import demo_principal

NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)
TIMES = rooms.RoomTimes()


async def bindings(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(PanelBinding)) or 0)


async def test_a_code_binds_the_panel_to_the_teachers_current_lesson_once(db: Database) -> None:
    lesson_id = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=1))
    panel = await demo_principal(db, "panel")
    teacher = await demo_principal(db, "teacher")
    pairing = await panels.start_pairing(db, panel, now=NOW)

    student = await demo_principal(db, "student")
    with pytest.raises(Forbidden):
        await panels.pair(db, student, pairing.code, now=NOW, times=TIMES)
    lesson = await panels.pair(db, teacher, pairing.code, now=NOW, times=TIMES)
    assert lesson.id == lesson_id
    bound = await panels.bound_lesson(db, panel, now=NOW, times=TIMES)
    assert bound is not None and bound.id == lesson_id
    assert await rooms.panel_bound_to(db, panel.person_id, lesson_id)

    with pytest.raises(NotFound):  # single use
        await panels.pair(db, teacher, pairing.code, now=NOW, times=TIMES)
    late = await panels.start_pairing(db, panel, now=NOW)
    with pytest.raises(NotFound):  # two minutes
        await panels.pair(db, teacher, late.code, now=NOW + dt.timedelta(minutes=3), times=TIMES)


async def test_the_binding_ends_when_the_teacher_ends_the_lesson(db: Database) -> None:
    lesson_id = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=1))
    panel = await demo_principal(db, "panel")
    teacher = await demo_principal(db, "teacher")
    pairing = await panels.start_pairing(db, panel, now=NOW)
    await panels.pair(db, teacher, pairing.code, now=NOW, times=TIMES)
    assert await bindings(db) == 1

    room = await rooms.load_room(db, lesson_id, teacher.school_id)
    await rooms.end_room(db, teacher, room, now=NOW + dt.timedelta(minutes=5))
    assert await bindings(db) == 0
    assert not await rooms.panel_bound_to(db, panel.person_id, lesson_id)
    assert await panels.bound_lesson(db, panel, now=NOW, times=TIMES) is None


async def test_the_binding_ends_when_the_lesson_runs_out(db: Database) -> None:
    await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=1))
    panel = await demo_principal(db, "panel")
    teacher = await demo_principal(db, "teacher")
    pairing = await panels.start_pairing(db, panel, now=NOW)
    await panels.pair(db, teacher, pairing.code, now=NOW, times=TIMES)

    during = NOW + dt.timedelta(minutes=40)
    assert await panels.bound_lesson(db, panel, now=during, times=TIMES) is not None
    after = NOW + dt.timedelta(minutes=44) + TIMES.overrun + dt.timedelta(minutes=1)
    assert await panels.bound_lesson(db, panel, now=after, times=TIMES) is None
    assert await bindings(db) == 0
