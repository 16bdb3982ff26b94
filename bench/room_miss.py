"""What a room entry costs when its lesson is not kept (``python -m bench.room_miss``).

A scratch PostgreSQL database is seeded with a storm's school (classes of 30); the lesson's
room and its class are then read as the room cache reads them on a miss (``find_room`` and
``load_entry``), over and over across the lessons. Printed per read pair: the CPU of this
process and of the PostgreSQL backend that served it (from ``/proc``, so run it on the
database's host).
"""

from __future__ import annotations

import asyncio

from bench.db_rounds import checked_options, measure_rounds, rounds_parser, seeded_school
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
    parser = rounds_parser(
        __doc__.splitlines()[0],
        students=3000,
        count="reads",
        count_default=1500,
        count_help="reads per round",
    )
    options = checked_options(parser, "reads")
    asyncio.run(_measure(options.students, options.reads, options.rounds, options.postgres_url))


if __name__ == "__main__":
    main()
