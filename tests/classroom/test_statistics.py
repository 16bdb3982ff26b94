"""Tables that fill from empty are analysed as they double (PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from classroom.demo import add_lesson
from classroom.storage.database import Database
from classroom.storage.statistics import FIRST_CHANGES, analyse_doubled_tables
from presence import visits
from presence.visits import Arrival
from tests.conftest import DEMO_DAY, table_counts
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)


async def _visits(db: Database, lesson: int, person: int, first: int, count: int) -> None:
    await visits.arrive_many(
        db, [Arrival(lesson, person, f"c{first + n}", "node-1", NOW) for n in range(count)]
    )


async def _analyses(db: Database) -> int:
    """How often ``room_visit`` was analysed, once every change is counted (PostgreSQL
    counts a backend's changes when it reports them, at the latest when it exits)."""
    return (await table_counts(db, "room_visit"))["analyze_count"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_filling_table_is_analysed_each_time_it_doubles(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    await _analyses(db)
    await analyse_doubled_tables(db)  # whatever the demo school's seeding left
    assert "room_visit" not in await analyse_doubled_tables(db)
    start = await _analyses(db)

    await _visits(db, lesson, student, 0, FIRST_CHANGES - 1)
    await _analyses(db)
    assert "room_visit" not in await analyse_doubled_tables(db), "not yet its first rows"
    await _visits(db, lesson, student, FIRST_CHANGES - 1, 1)
    await _analyses(db)
    assert "room_visit" in await analyse_doubled_tables(db)
    assert await _analyses(db) == start + 1
    assert "room_visit" not in await analyse_doubled_tables(db), "nothing changed since"

    # Analysed at 100 rows: analysed again once another 100 have come, not before.
    await _visits(db, lesson, student, FIRST_CHANGES, FIRST_CHANGES - 10)
    await _analyses(db)
    assert "room_visit" not in await analyse_doubled_tables(db)
    await _visits(db, lesson, student, 2 * FIRST_CHANGES - 10, 10)
    await _analyses(db)
    assert await analyse_doubled_tables(db) == ["room_visit"]
    assert await _analyses(db) == start + 2


async def test_nothing_is_analysed_on_sqlite() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        await db.migrate()
        assert await analyse_doubled_tables(db) == []
    finally:
        await db.close()
