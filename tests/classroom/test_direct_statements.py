"""Statements run straight on the driver do what SQLAlchemy does, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import cast

import asyncpg
import pytest
from sqlalchemy import Float, Table, bindparam, func, select, text

from classroom.roles import Role
from classroom.storage.database import Database
from classroom.storage.direct import DirectInsert, DirectRead
from classroom.storage.models import Person, RaisedHand, RoomVisit
from tests.conftest import demo_principal as login

NOW = dt.datetime(2026, 9, 1, 8, 35, tzinfo=dt.UTC)


async def test_rows_are_sqlalchemys_rows(db: Database) -> None:
    lesson_id = 1
    people = [await login(db, name) for name in ("student", "student-5a-02", "teacher")]
    async with db.transaction() as connection:
        for n, person in enumerate(people):
            await connection.execute(
                RaisedHand.__table__.insert().values(
                    lesson_id=lesson_id,
                    person_id=person.person_id,
                    raised_at=NOW + dt.timedelta(seconds=n),
                )
            )
    statement = (
        select(Person.id, Person.role, RaisedHand.raised_at)
        .join(RaisedHand, RaisedHand.person_id == Person.id)
        .where(
            RaisedHand.lesson_id == bindparam("lesson_id"),
            RaisedHand.raised_at > bindparam("since", type_=RaisedHand.raised_at.type),
        )
        .order_by(RaisedHand.raised_at)
        .limit(2)
    )
    params = {"lesson_id": lesson_id, "since": NOW}
    async with db.reader() as connection:
        expected = [tuple(row) for row in (await connection.execute(statement, params)).all()]
        direct = [tuple(row) for row in await DirectRead(statement).rows(connection, params)]
    assert direct == expected
    assert [row[0] for row in direct] == [people[1].person_id, people[2].person_id]
    assert [row[1] for row in direct] == [Role.STUDENT, Role.TEACHER]
    assert all(isinstance(row[1], Role) for row in direct), "enums come back as enums"
    assert direct[0][2] == NOW + dt.timedelta(seconds=1) and direct[0][2].tzinfo is dt.UTC


async def test_no_rows_and_a_session_reader(db: Database) -> None:
    read = DirectRead(select(Person.id).where(Person.id == bindparam("person_id")))
    async with db.reader() as connection:
        assert await read.rows(connection, {"person_id": -1}) == []
    async with db.session() as session:  # a session runs it through SQLAlchemy
        assert await read.rows(session, {"person_id": -1}) == []


HANDS = cast(Table, RaisedHand.__table__)
INSERT_HANDS = DirectInsert(HANDS, ("lesson_id", "person_id", "raised_at"))


async def _two_hands(db: Database, lesson_id: int) -> list[dict[str, object]]:
    """Rows of two students' hands, a minute apart (not inserted)."""
    people = [await login(db, name) for name in ("student", "student-5a-02")]
    return [
        {
            "lesson_id": lesson_id,
            "person_id": p.person_id,
            "raised_at": NOW + dt.timedelta(minutes=n),
        }
        for n, p in enumerate(people)
    ]


async def _backend_alive(db: Database, pid: int) -> bool:
    async with db.reader() as connection:
        query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        return bool((await connection.execute(query, {"pid": pid})).scalar_one())


async def test_inserted_rows_read_back_as_given(db: Database) -> None:
    rows = await _two_hands(db, 1)
    async with db.autocommit() as connection:
        await INSERT_HANDS.run(connection, rows)
        await INSERT_HANDS.run(connection, [])
        stored = (
            await connection.execute(
                select(HANDS.c.lesson_id, HANDS.c.person_id, HANDS.c.raised_at).order_by(
                    HANDS.c.raised_at
                )
            )
        ).all()
    assert [dict(row._mapping) for row in stored] == rows


async def test_conflicting_rows_are_skipped_when_asked(db: Database) -> None:
    people = [await login(db, name) for name in ("student", "student-5a-02", "teacher")]
    table = cast(Table, RaisedHand.__table__)
    columns = ("lesson_id", "person_id", "raised_at")
    skipping = DirectInsert(table, columns, skip_conflicts=True)

    def hand(person: int, minutes: int) -> dict[str, object]:
        return {
            "lesson_id": 1,
            "person_id": person,
            "raised_at": NOW + dt.timedelta(minutes=minutes),
        }

    first, second, third = (p.person_id for p in people)
    async with db.autocommit() as connection:
        await skipping.run(connection, [hand(first, 0)])
        # One already there, one new, and the new one repeated within the same rows.
        await skipping.run(connection, [hand(first, 5), hand(second, 1), hand(second, 7)])
        stored = (
            await connection.execute(
                select(table.c.person_id, table.c.raised_at).order_by(table.c.person_id)
            )
        ).all()
    assert [tuple(row) for row in stored] == [
        (first, NOW),
        (second, NOW + dt.timedelta(minutes=1)),
    ], "the first row of each key is kept; later ones are skipped, not merged"
    plain = DirectInsert(table, columns)
    async with db.autocommit() as connection:
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):  # the driver's own error
            await plain.run(connection, [hand(third, 2), hand(first, 3)])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_insert_does_not_send_back_what_nobody_reads(db: Database) -> None:
    """New primary keys (here a serial one) are not returned: a row per row, for nothing."""
    person = await login(db, "student")
    table = cast(Table, RoomVisit.__table__)
    columns = ("lesson_id", "person_id", "connection_id", "node_id", "joined_at", "seen_at")
    insert_visits = DirectInsert(table, columns)
    row = dict(zip(columns, (1, person.person_id, "c1", "node-1", NOW, NOW), strict=True))
    async with db.autocommit() as connection:
        await insert_visits.run(connection, [row])
        prepared = (
            await connection.execute(text("SELECT statement FROM pg_prepared_statements"))
        ).scalars()
        inserts = [sql for sql in prepared if sql.startswith("INSERT INTO room_visit")]
    assert inserts and not any("RETURNING" in sql for sql in inserts), inserts


async def test_a_lent_connection_reads_and_writes_as_a_pooled_one(db: Database) -> None:
    rows = await _two_hands(db, 2)
    read = DirectRead(
        select(RaisedHand.person_id, RaisedHand.raised_at)
        .where(RaisedHand.lesson_id == bindparam("lesson_id"))
        .order_by(RaisedHand.raised_at)
    )
    async with db.direct() as connection:
        await INSERT_HANDS.run(connection, rows)
        direct = [tuple(row) for row in await read.rows(connection, {"lesson_id": 2})]
    async with db.reader() as connection:  # committed without a transaction of its own
        pooled = [tuple(row) for row in await read.rows(connection, {"lesson_id": 2})]
    assert direct == pooled == [(row["person_id"], row["raised_at"]) for row in rows]
    assert direct[0][1].tzinfo is dt.UTC


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_given_up_mid_statement_is_not_lent_again(database_url: str) -> None:
    """A caller cancelled while its statement runs leaves the connection busy: it is closed
    (its backend ends) instead of going back to the pool, and the next caller is served."""
    db = Database(database_url, pool_size=1)
    sleep = DirectRead(select(func.pg_sleep(bindparam("seconds", type_=Float))))
    backend = DirectRead(select(func.pg_backend_pid()))
    try:
        async with db.direct() as connection:
            (first_backend,) = (await backend.rows(connection, {}))[0]

        async def sleep_long() -> None:
            async with db.direct() as connection:
                await sleep.rows(connection, {"seconds": 30.0})

        sleeping = asyncio.create_task(sleep_long())
        await asyncio.sleep(0.3)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        async with asyncio.timeout(10), db.direct() as connection:
            (next_backend,) = (await backend.rows(connection, {}))[0]
        assert next_backend != first_backend, "the busy connection was lent again"
        for _ in range(50):  # the backend ends once it notices the closed connection
            if not await _backend_alive(db, first_backend):
                break
            await asyncio.sleep(0.1)
        assert not await _backend_alive(db, first_backend)
    finally:
        await db.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_broken_lent_connection_is_replaced(database_url: str) -> None:
    db = Database(database_url, pool_size=1)
    backend = DirectRead(select(func.pg_backend_pid()))
    try:
        async with db.direct() as connection:
            (first_backend,) = (await backend.rows(connection, {}))[0]
        killer = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            await killer.execute("SELECT pg_terminate_backend($1)", first_backend)
            for _ in range(100):  # until the backend has ended
                query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
                if not await killer.fetchval(query, first_backend):
                    break
                await asyncio.sleep(0.05)
        finally:
            await killer.close()
        broken = (
            OSError,
            asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError,
            asyncpg.InternalClientError,
        )
        with pytest.raises(broken):
            async with db.direct() as connection:
                await backend.rows(connection, {})
        async with asyncio.timeout(10), db.direct() as connection:
            (next_backend,) = (await backend.rows(connection, {}))[0]
        assert next_backend != first_backend
    finally:
        await db.close()
