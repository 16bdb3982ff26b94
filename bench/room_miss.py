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
import datetime as dt
import time

from sqlalchemy import text

from bench.storm import procstat, scratch_db
from bench.storm.seed import seed_storm
from classroom.room_cache import load_entry
from classroom.rooms import find_room
from classroom.storage.database import Database

SECRET = "room-miss-bench-" + "k" * 32


async def _measure(students: int, reads: int, rounds: int, admin_url: str) -> None:
    url = await scratch_db.create_postgres(admin_url)
    db = Database(url, pool_size=1)
    try:
        await db.migrate()
        seats = await seed_storm(
            db, students, secret_key=SECRET, token_ttl=3600, room_overrun=dt.timedelta(minutes=10)
        )
        lessons = sorted({seat.lesson_id for seat in seats})
        async with db.reader() as connection:
            backend = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())

        async def read_all(count: int) -> None:
            for index in range(count):
                room = await find_room(db, lessons[index % len(lessons)])
                assert room is not None
                entry = await load_entry(db, room.lesson)
                assert len(entry.enrolled) > 0

        await read_all(200)  # statements prepared, plans cached
        for round_ in range(1, rounds + 1):
            ours, theirs = time.process_time(), procstat.cpu_seconds(backend)
            await read_all(reads)
            ours, theirs = time.process_time() - ours, procstat.cpu_seconds(backend) - theirs
            print(
                f"round {round_}: {1e6 * ours / reads:.0f} µs of this process's CPU and "
                f"{1e6 * theirs / reads:.0f} µs of PostgreSQL's per room and class read"
            )
    finally:
        await db.close()
        await scratch_db.drop_postgres(url, admin_url)


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
