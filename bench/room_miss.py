"""What a room entry costs when its lesson is not kept (``python -m bench.room_miss``).

A scratch PostgreSQL database is seeded with a storm's school (classes of 30); the lesson's
room and its class are then read as the room cache reads them on a miss (``find_room`` and
``load_entry``), over and over across the lessons. Printed per read pair: the CPU of this
process and of the PostgreSQL backend that served it (from ``/proc``, so run it on the
database's host).
"""

from __future__ import annotations

import argparse
import asyncio

from bench.db_rounds import measure_rounds, seeded_school
from bench.storm import scratch_db
from classroom.room_cache import load_entry
from classroom.rooms import find_room


async def _measure(students: int, reads: int, rounds: int, admin_url: str) -> None:
    async with seeded_school(students, admin_url) as (db, seats, backend):
        lessons = sorted({seat.lesson_id for seat in seats})

        async def read_all(count: int) -> None:
            for index in range(count):
                room = await find_room(db, lessons[index % len(lessons)])
                assert room is not None
                entry = await load_entry(db, room.lesson)
                assert len(entry.enrolled) > 0

        await measure_rounds(
            read_all,
            backend=backend,
            warm_up=200,
            count=reads,
            rounds=rounds,
            unit="room and class read",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--reads", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=scratch_db.DEFAULT_POSTGRES)
    options = parser.parse_args()
    if not 1 <= options.students <= 100_000:
        parser.error("--students must be between 1 and 100000")
    if not 1 <= options.reads <= 1_000_000 or not 1 <= options.rounds <= 100:
        parser.error("--reads must be between 1 and 1000000, --rounds between 1 and 100")
    asyncio.run(_measure(options.students, options.reads, options.rounds, options.postgres_url))


if __name__ == "__main__":
    main()
