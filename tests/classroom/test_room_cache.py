"""The per-node cache of rooms and entry facts, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import event

from classroom import rooms
from classroom.demo import add_lesson
from classroom.errors import NotFound
from classroom.room_cache import RoomCache
from classroom.storage import direct
from classroom.storage.database import Database
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database receives meanwhile: through SQLAlchemy, and those
    run straight on asyncpg (``classroom.storage.direct``)."""
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    run_on_driver = direct._on_driver

    async def on_driver(connection: Any, work: Any) -> Any:
        statements.append("(a statement run on asyncpg)")
        return await run_on_driver(connection, work)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        with mock.patch.object(direct, "_on_driver", on_driver):
            yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)


async def test_a_room_is_read_once_until_forgotten_or_too_old(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    teacher = await login(db, "teacher")
    clock = Clock()
    cache = RoomCache(db, ttl_seconds=20, clock=clock)
    room = await cache.room(lesson, 1)
    await rooms.set_switches(db, teacher, room, rooms.SwitchChange(locked=True))
    with counted(db) as statements:
        assert not (await cache.room(lesson, 1)).switches.locked, "kept"
    assert statements == []
    cache.forget(lesson)
    assert (await cache.room(lesson, 1)).switches.locked, "read again once forgotten"
    await rooms.set_switches(db, teacher, room, rooms.SwitchChange(locked=False))
    clock.now += 19.9
    assert (await cache.room(lesson, 1)).switches.locked
    clock.now += 0.2
    assert not (await cache.room(lesson, 1)).switches.locked, "read again when too old"


async def test_a_lesson_of_another_school_is_not_found_cached_or_not(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW)
    cache = RoomCache(db)
    for _ in range(2):
        with pytest.raises(NotFound):
            await cache.room(lesson, 2)
    assert (await cache.room(lesson, 1)).lesson.id == lesson
    with pytest.raises(NotFound):
        await cache.room(lesson, 2)


async def test_a_read_started_by_another_school_does_not_refuse_the_lessons_own(
    db: Database,
) -> None:
    lesson = await add_lesson(db, starts_at=NOW)
    cache = RoomCache(db)
    theirs, ours = await asyncio.gather(
        cache.room(lesson, 2), cache.room(lesson, 1), return_exceptions=True
    )
    assert isinstance(theirs, NotFound)
    assert not isinstance(ours, BaseException) and ours.lesson.id == lesson
    with pytest.raises(NotFound):
        await cache.room(10**9, 1)


async def test_entry_facts_follow_removals_and_revocations_once_forgotten(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    teacher = await login(db, "teacher")
    student = await login(db, "student")
    parent = await login(db, "parent")
    cache = RoomCache(db)
    room = await cache.room(lesson, 1)
    assert await cache.entry_facts(room.lesson, student.person_id) == (True, 0, False)
    assert await cache.entry_facts(room.lesson, parent.person_id) == (False, 0, False)
    await rooms.revoke_link(db, teacher, room, student.person_id)
    await rooms.remove_participant(db, teacher, room, student.person_id, now=NOW)
    assert await cache.entry_facts(room.lesson, student.person_id) == (True, 0, False)
    cache.forget(lesson)
    assert await cache.entry_facts(room.lesson, student.person_id) == (True, 1, True)


async def test_joins_arriving_together_share_one_read(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    cache = RoomCache(db)
    with counted(db) as statements:
        found = await asyncio.gather(*(cache.room(lesson, 1) for _ in range(20)))
    assert {room.lesson.id for room in found} == {lesson}
    assert len(statements) == 1


async def test_a_room_forgotten_while_it_was_read_is_read_again(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    cache = RoomCache(db)
    reading = asyncio.create_task(cache.room(lesson, 1))
    await asyncio.sleep(0)  # the read has started
    cache.forget(lesson)
    await reading
    with counted(db) as statements:
        await cache.room(lesson, 1)
    assert len(statements) == 1, "what was read before the change is not kept"
