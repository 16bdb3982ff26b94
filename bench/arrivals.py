"""What recording room entries costs (``python -m bench.arrivals``).

A scratch PostgreSQL database is seeded with a storm's school (classes of 30); its students
then enter their lessons as a worker records them (``presence.visits.arrive_many``, in
batches as entries arriving together are), each student once, so that the visits table
grows as in a storm. Printed per entry: the CPU of this process and of the
PostgreSQL backend that served it (from ``/proc``, so run it on the database's host).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from bench.db_rounds import checked_options, measure_rounds, rounds_parser, seeded_school
from classroom.storage.statistics import analyse_doubled_tables
from presence.visits import Arrival, arrive_many

NOW = dt.datetime(2026, 9, 1, 8, 30, tzinfo=dt.UTC)
WARM_UP = 200
ANALYSE_EVERY = 5.0
"""Seconds between looks for doubled tables, as ``web.background`` has them."""


async def _measure(
    students: int, entries: int, batch: int, rounds: int, analyse: bool, admin_url: str
) -> None:
    async with seeded_school(students, admin_url) as (db, seats, backend):
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

        await measure_rounds(
            enter,
            backend=backend,
            warm_up=WARM_UP,
            count=entries,
            rounds=rounds,
            unit=f"entry, in batches of {batch}",
        )


def main() -> None:
    parser = rounds_parser(
        __doc__.splitlines()[0],
        students=6000,
        count="entries",
        count_default=1500,
        count_help="entries per round",
    )
    parser.add_argument("--batch", type=int, default=1, help="entries recorded together")
    parser.add_argument(
        "--analyse",
        choices=("node", "never"),
        default="node",
        help="analyse doubled tables every 5 s as nodes do, or leave them to autovacuum",
    )
    options = checked_options(parser, "entries")
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
