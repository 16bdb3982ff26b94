"""Room visits of leaving connections, closed in batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from classroom.demo import add_lesson
from classroom.storage.database import Database
from presence import visits
from presence.arrivals import Arrivals
from presence.departures import Departures
from presence.visits import Arrival, Departure, Leaving
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)
LATER = NOW + dt.timedelta(minutes=40)


async def test_a_lesson_end_closes_every_visit_and_says_each_person_gone_once(
    db: Database,
) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    other_lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=4))
    names = ("student", "student-5a-02", "student-5a-03", "teacher")
    ann, ben, cat, teacher = [(await login(db, name)).person_id for name in names]
    await visits.arrive_many(
        db,
        [
            Arrival(lesson, ann, "ann-phone", "node-1", NOW),
            Arrival(lesson, ann, "ann-laptop", "node-2", NOW),  # two devices, both leave
            Arrival(lesson, ben, "ben", "node-1", NOW),
            Arrival(other_lesson, ben, "ben", "node-1", NOW),  # one connection, two rooms
            Arrival(lesson, cat, "cat-phone", "node-1", NOW),
            Arrival(lesson, cat, "cat-laptop", "node-1", NOW),  # stays
            Arrival(lesson, teacher, "teacher", "node-1", NOW),  # leaves this room only
        ],
    )
    for node in ("node-1", "node-2"):
        await visits.refresh(db, node, LATER)  # both nodes still hold their visits
    departing = Departures(db, max_batch=16)
    left = await asyncio.gather(
        departing.depart(Leaving("ann-phone", None, LATER)),
        departing.depart(Leaving("ann-laptop", None, LATER)),
        departing.depart(Leaving("ben", None, LATER)),
        departing.depart(Leaving("cat-phone", None, LATER)),
        departing.depart(Leaving("teacher", lesson, LATER)),
        departing.depart(Leaving("nobody", None, LATER)),  # never entered a room
    )
    await departing.close()
    assert left[0] == [Departure(lesson, ann, still_here=True)], "her laptop leaves too"
    assert left[1] == [Departure(lesson, ann, still_here=False)], "gone, said once"
    assert sorted(left[2], key=lambda d: d.lesson_id) == [
        Departure(lesson, ben, still_here=False),
        Departure(other_lesson, ben, still_here=False),
    ]
    assert left[3] == [Departure(lesson, cat, still_here=True)], "her laptop stays"
    assert left[4] == [Departure(lesson, teacher, still_here=False)]
    assert left[5] == []

    stays = await visits.visits_of(db, lesson)
    open_connections = [p for p, found in stays.items() for _j, end, _s in found if end is None]
    assert open_connections == [cat], "only Cat's laptop is still open"
    assert all(end == LATER for p, found in stays.items() if p != cat for _j, end, _s in found)
    assert await visits.open_count(db) == 1


async def test_a_connection_leaving_a_room_keeps_its_other_rooms(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    other_lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=4))
    teacher = (await login(db, "teacher")).person_id
    for room in (lesson, other_lesson):
        await visits.arrive(
            db, lesson_id=room, person_id=teacher, connection_id="t", node_id="n", now=NOW
        )
    assert await visits.depart(db, connection_id="t", now=LATER, lesson_id=lesson) == [
        Departure(lesson, teacher, still_here=False)
    ]
    assert await visits.open_count(db) == 1
    assert await visits.depart(db, connection_id="t", now=LATER) == [
        Departure(other_lesson, teacher, still_here=False)
    ]
    assert await visits.depart(db, connection_id="t", now=LATER) == [], "closed once"
    assert await visits.open_count(db) == 0


async def test_a_device_on_a_stopped_node_does_not_keep_a_person_here(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    student = (await login(db, "student")).person_id
    await visits.arrive_many(
        db,
        [
            Arrival(lesson, student, "old", "node-stopped", NOW),
            Arrival(lesson, student, "new", "node-1", LATER),
        ],
    )
    (departure,) = await visits.depart(db, connection_id="new", now=LATER)
    assert not departure.still_here, "the other visit was last seen 40 minutes ago"


async def test_a_departure_waits_for_its_connections_arrival_still_being_written(
    db: Database,
) -> None:
    """Arrivals that follow each other closely wait for company before they are written;
    a connection that leaves meanwhile must not have its departure written first (its
    visit would stay open)."""
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    ann, ben = [(await login(db, name)).person_id for name in ("student", "student-5a-02")]
    arrivals = Arrivals(db, linger=0.3)
    departures = Departures(db, after=arrivals)
    assert await arrivals.arrive(Arrival(lesson, ann, "ann", "node-1", NOW))
    arriving = asyncio.create_task(arrivals.arrive(Arrival(lesson, ben, "ben", "node-1", NOW)))
    await asyncio.sleep(0.01)  # ben's arrival is waiting for company
    assert not arriving.done()
    left = await departures.depart(Leaving("ben", None, LATER))
    assert arriving.done() and arriving.result() is True
    assert left == [Departure(lesson, ben, still_here=False)]
    stays = (await visits.visits_of(db, lesson))[ben]
    assert [left_at for _joined, left_at, _seen in stays] == [LATER]
    await arrivals.close()
    await departures.close()
