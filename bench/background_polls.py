"""What a node's background polls cost when nothing is due (``python -m bench.background_polls``).

Every node asks the database every few seconds for lessons due for the absence check,
reactions waiting in the outbox and notices due for delivery; most of the time there are
none, and each node pays for asking. A scratch PostgreSQL database is seeded with a storm's
school; the three polls then run as a node's background work runs them. Printed per round of
the three: the CPU of this process and of the PostgreSQL backend that served it (from
``/proc``, so run it on the database's host).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from bench.db_rounds import checked_options, measure_rounds, rounds_parser, seeded_school
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
    parser = rounds_parser(
        __doc__.splitlines()[0],
        students=3000,
        count="polls",
        count_default=1000,
        count_help="rounds of the three polls per round",
    )
    options = checked_options(parser, "polls")
    asyncio.run(_measure(options.students, options.polls, options.rounds, options.postgres_url))


if __name__ == "__main__":
    main()
