"""Room visits of arriving connections, written in batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import text

from classroom.demo import add_lesson
from classroom.storage.database import Database
from presence import visits
from presence.arrivals import Arrivals
from presence.visits import Arrival
from tests.conftest import DEMO_DAY, table_counts
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)


async def test_arrivals_together_are_stored_and_tell_first_devices(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    other_lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=4))
    student = (await login(db, "student")).person_id
    teacher = (await login(db, "teacher")).person_id
    arrivals = Arrivals(db, max_batch=3)

    def at(lesson_id: int, person: int, connection: str) -> Arrival:
        return Arrival(lesson_id, person, connection, "node-1", NOW)

    firsts = await asyncio.gather(
        arrivals.arrive(at(lesson, student, "phone")),
        arrivals.arrive(at(lesson, student, "laptop")),  # a second device, same batch
        arrivals.arrive(at(lesson, teacher, "t1")),
        arrivals.arrive(at(other_lesson, student, "laptop")),  # the next batch
        arrivals.arrive(at(lesson, student, "phone")),  # the same connection again
    )
    assert firsts == [True, False, True, True, False]
    stored = await visits.visits_of(db, lesson)
    assert sorted(len(v) for v in stored.values()) == [1, 2], "one visit per connection"
    assert len(await visits.visits_of(db, other_lesson)) == 1
    await arrivals.close()


async def test_batches_of_any_size_find_every_open_visit(db: Database) -> None:
    """The read of open visits is made for lists of 1, 2, 4, 8… values; the lengths
    between (3 lessons, 5 people) repeat their last value and must find the same visits."""
    lessons = [await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=m)) for m in (5, 4, 3)]
    names = ("student", "student-5a-02", "student-5a-03", "student-5a-04", "teacher")
    people = [(await login(db, name)).person_id for name in names]
    here = [
        Arrival(lesson, person, f"first-{n}", "node-1", NOW)
        for n, (lesson, person) in enumerate(zip(lessons * 2, people, strict=False))
    ]
    assert await visits.arrive_many(db, here) == [True] * 5
    again = [
        Arrival(a.lesson_id, a.person_id, f"second-{n}", "node-2", NOW) for n, a in enumerate(here)
    ]
    newcomer = Arrival(lessons[2], people[0], "third", "node-2", NOW)
    assert await visits.arrive_many(db, [*again, newcomer]) == [False] * 5 + [True]


async def test_a_connection_arriving_twice_in_one_batch_opens_one_visit(db: Database) -> None:
    """One visit per connection, from its first arrival in the batch; a connection already
    in the room opens none."""
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student, other = [(await login(db, n)).person_id for n in ("student", "student-5a-02")]
    later = NOW + dt.timedelta(minutes=1)
    assert await visits.arrive_many(db, [Arrival(lesson, other, "tablet", "node-1", NOW)]) == [True]
    batch = [
        Arrival(lesson, student, "phone", "node-1", NOW),
        Arrival(lesson, other, "tablet", "node-1", later),  # already in the room
        Arrival(lesson, student, "phone", "node-1", later),  # the same connection again
        Arrival(lesson, student, "laptop", "node-2", later),
    ]
    assert await visits.arrive_many(db, batch) == [True, True, True, False]
    stored = await visits.visits_of(db, lesson)
    assert [joined for joined, _left, _seen in stored[student]] == [NOW, later]
    assert [joined for joined, _left, _seen in stored[other]] == [NOW]
    assert all(left is None for v in stored.values() for _joined, left, _seen in v)


async def test_a_person_back_after_their_devices_left_arrives_first_again(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    arrivals = Arrivals(db)
    assert await arrivals.arrive(Arrival(lesson, student, "a", "node-1", NOW))
    later = NOW + dt.timedelta(seconds=30)
    assert not await arrivals.arrive(Arrival(lesson, student, "b", "node-1", later))
    await visits.depart(db, connection_id="a", now=later)
    await visits.depart(db, connection_id="b", now=later)
    assert await arrivals.arrive(Arrival(lesson, student, "c", "node-1", later))
    # A visit whose node stopped refreshing it long ago does not count as being there.
    much_later = later + visits.STALE_AFTER * 2
    assert await arrivals.arrive(Arrival(lesson, student, "d", "node-2", much_later))


async def test_open_visits_are_as_fresh_as_their_node(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id

    def after(seconds: int) -> dt.datetime:
        return NOW + dt.timedelta(seconds=seconds)

    assert await visits.arrive(
        db, lesson_id=lesson, person_id=student, connection_id="a", node_id="node-1", now=NOW
    )
    for beat in (20, 40, 60, 80, 100):
        await visits.refresh(db, "node-1", after(beat))
    # Its own time is 110 s old, but its node said it was alive 10 s ago: still here.
    assert not await visits.arrive(
        db, lesson_id=lesson, person_id=student, connection_id="b", node_id="node-2", now=after(110)
    )
    await visits.depart(db, connection_id="b", now=after(120))
    # node-1 stops beating; once its last beat is older than STALE_AFTER, "a" is not here.
    stale = after(100) + visits.STALE_AFTER + dt.timedelta(seconds=1)
    assert await visits.arrive(
        db, lesson_id=lesson, person_id=student, connection_id="c", node_id="node-2", now=stale
    )
    stays = (await visits.visits_of(db, lesson))[student]
    assert (NOW, None, after(100)) in stays, "last seen at its node's last beat"


async def test_a_node_gone_for_a_day_has_its_visits_closed_at_its_last_beat(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    await visits.arrive(
        db, lesson_id=lesson, person_id=student, connection_id="a", node_id="node-1", now=NOW
    )
    last_beat = NOW + dt.timedelta(seconds=40)
    await visits.refresh(db, "node-1", last_beat)
    await visits.refresh(db, "node-2", last_beat + visits.GONE_AFTER)
    assert (await visits.visits_of(db, lesson))[student] == [(NOW, None, last_beat)]
    await visits.refresh(db, "node-2", last_beat + visits.GONE_AFTER + dt.timedelta(seconds=20))
    assert (await visits.visits_of(db, lesson))[student] == [(NOW, last_beat, last_beat)]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_heartbeats_write_one_row_per_node_not_per_visit(db: Database) -> None:
    """Held connections cost the database nothing between their entry and their exit."""
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    await visits.arrive_many(
        db, [Arrival(lesson, student, f"c{n}", "node-1", NOW) for n in range(300)]
    )
    for beat in range(1, 4):
        await visits.refresh(db, "node-1", NOW + dt.timedelta(seconds=20 * beat))
    assert (await table_counts(db, "room_visit"))["n_tup_upd"] == 0
    heartbeats = await table_counts(db, "node_heartbeat")
    assert (heartbeats["n_tup_ins"], heartbeats["n_tup_upd"]) == (1, 2)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_departure_reads_only_the_open_visits_of_its_connection(db: Database) -> None:
    """Visits are kept for every lesson's attendance: a disconnect must not read them all."""
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    async with db.reader() as connection:
        lessons = (await connection.execute(text("SELECT id FROM lesson_occurrence"))).scalars()
        others = [other for other in lessons if other != lesson][:300]
    # Other lessons' visits by the same student, closed ones among them.
    kept = [
        Arrival(other, student, f"k{other}-{n}", "node-1", NOW)
        for other in others
        for n in range(10)
    ]
    await visits.arrive_many(db, kept)
    for arrival in kept[::2]:
        await visits.depart(db, connection_id=arrival.connection_id, now=NOW)
    await visits.arrive_many(
        db, [Arrival(lesson, student, f"c{n}", "node-1", NOW) for n in range(20)]
    )
    async with db.autocommit() as connection:
        await connection.execute(text("ANALYZE room_visit"))
    before = await table_counts(db, "room_visit")
    for n in range(20):
        (departure,) = await visits.depart(db, connection_id=f"c{n}", now=NOW)
        assert departure.still_here is (n < 19)
    after = await table_counts(db, "room_visit")
    assert after["seq_scan"] == before["seq_scan"], "no departure read the whole table"
    assert after["idx_scan"] >= before["idx_scan"] + 20
