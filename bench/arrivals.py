"""What recording room entries costs (``python -m bench.arrivals``).

A scratch PostgreSQL database is seeded with a storm's school (classes of 30); its students
then enter their lessons as a worker records them (``presence.visits.arrive_many``, in
batches as entries arriving together are), each student once, so that the visits table
grows as in a storm. Printed per entry: the CPU of this process and of the
PostgreSQL backend that served it (from ``/proc``, so run it on the database's host).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time

from sqlalchemy import text

from bench.storm import procstat, scratch_db
from bench.storm.seed import seed_storm
from classroom.storage.database import Database
from classroom.storage.statistics import analyse_doubled_tables
from presence.visits import Arrival, arrive_many

SECRET = "arrivals-bench-" + "k" * 32
NOW = dt.datetime(2026, 9, 1, 8, 30, tzinfo=dt.UTC)
WARM_UP = 200
ANALYSE_EVERY = 5.0
"""Seconds between looks for doubled tables, as ``web.background`` has them."""


async def _measure(
    students: int, entries: int, batch: int, rounds: int, analyse: bool, admin_url: str
) -> None:
    url = await scratch_db.create_postgres(admin_url)
    db = Database(url, pool_size=1)
    try:
        await db.migrate()
        seats = await seed_storm(
            db, students, secret_key=SECRET, token_ttl=3600, room_overrun=dt.timedelta(minutes=10)
        )
        async with db.reader() as connection:
            backend = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        made = 0
        next_look = time.monotonic() + ANALYSE_EVERY

        async def enter(count: int) -> None:
            nonlocal made, next_look
            for start in range(0, count, batch):
                if analyse and time.monotonic() >= next_look:
                    next_look = time.monotonic() + ANALYSE_EVERY
                    await analyse_doubled_tables(db)
                group = seats[made : made + min(batch, count - start)]
                await arrive_many(
                    db,
                    [
                        Arrival(
                            seat.lesson_id, seat.student_id, f"c{seat.student_id}", "bench", NOW
                        )
                        for seat in group
                    ],
                )
                made += len(group)

        await enter(WARM_UP)  # statements prepared, plans cached
        for round_ in range(1, rounds + 1):
            ours, theirs = time.process_time(), procstat.cpu_seconds(backend)
            await enter(entries)
            ours, theirs = time.process_time() - ours, procstat.cpu_seconds(backend) - theirs
            print(
                f"round {round_}: {1e6 * ours / entries:.0f} µs of this process's CPU and "
                f"{1e6 * theirs / entries:.0f} µs of PostgreSQL's per entry, "
                f"in batches of {batch}"
            )
    finally:
        await db.close()
        await scratch_db.drop_postgres(url, admin_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6000)
    parser.add_argument("--entries", type=int, default=1500, help="entries per round")
    parser.add_argument("--batch", type=int, default=1, help="entries recorded together")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--analyse",
        choices=("node", "never"),
        default="node",
        help="analyse doubled tables every 5 s as nodes do, or leave them to autovacuum",
    )
    parser.add_argument("--postgres-url", default=scratch_db.DEFAULT_POSTGRES)
    options = parser.parse_args()
    if not 1 <= options.students <= 100_000:
        parser.error("--students must be between 1 and 100000")
    if not 1 <= options.entries <= 1_000_000 or not 1 <= options.rounds <= 100:
        parser.error("--entries must be between 1 and 1000000, --rounds between 1 and 100")
    if not 1 <= options.batch <= 256:
        parser.error("--batch must be between 1 and 256")
    if options.students < WARM_UP + options.entries * options.rounds:
        parser.error(
            f"every student enters once: --students must be at least"
            f" {WARM_UP} + --entries × --rounds"
        )
    asyncio.run(
        _measure(
            options.students,
            options.entries,
            options.batch,
            options.rounds,
            options.analyse == "node",
            options.postgres_url,
        )
    )


if __name__ == "__main__":
    main()
