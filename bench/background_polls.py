"""What a node's background polls cost when nothing is due (``python -m bench.background_polls``).

Every node asks the database every few seconds for lessons due for the absence check,
reactions waiting in the outbox and notices due for delivery; most of the time there are
none, and each node pays for asking. A scratch PostgreSQL database is seeded with a storm's
school; the three polls then run as a node's background work runs them. Printed per round of
the three: the CPU of this process and of the PostgreSQL backend that served it (from
``/proc``, so run it on the database's host).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bench.db_rounds import measure_rounds, seeded_school
from bench.storm import scratch_db
from classroom.events import EventDispatcher
from classroom.outbox import OutboxRelay
from classroom.rooms import RoomTimes
from presence import absence
from presence.notices import NoticeDispatcher


async def _publish_nothing(_recipient: int, _view: object) -> None:
    raise AssertionError("no notice is due in the bench's school")


async def _measure(students: int, polls: int, rounds: int, admin_url: str) -> None:
    async with seeded_school(students, admin_url) as (db, _seats, backend):
        notices = NoticeDispatcher(db, "bench-node", _publish_nothing, None)
        outbox = OutboxRelay(db, "bench-node", EventDispatcher())
        times = RoomTimes()

        async def poll(count: int) -> None:
            for _ in range(count):
                now = dt.datetime.now(dt.UTC)
                found = await absence.check_due_lessons(db, now=now, times=times)
                found += [await outbox.run_once(now), await notices.run_once(now)]
                assert found == [0, 0], "nothing is due: the polls find nothing"

        await measure_rounds(
            poll, backend=backend, warm_up=50, count=polls, rounds=rounds, unit="round of polls"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=scratch_db.DEFAULT_POSTGRES)
    options = parser.parse_args()
    if not 1 <= options.students <= 100_000:
        parser.error("--students must be between 1 and 100000")
    if not 1 <= options.polls <= 1_000_000 or not 1 <= options.rounds <= 100:
        parser.error("--polls must be between 1 and 1000000, --rounds between 1 and 100")
    asyncio.run(_measure(options.students, options.polls, options.rounds, options.postgres_url))


if __name__ == "__main__":
    main()
