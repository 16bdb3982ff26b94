"""What the reads of a room entry cost (``python -m bench.room_entry``).

A scratch PostgreSQL database is seeded with a storm's school (classes of 30); its students
then read what they find on entering their lesson's room (``room_contents``: the hands up
and the chat history they may read; none yet, as at the bell), over and over across the
seats. Printed per entry: the CPU of this process and of the PostgreSQL backend that
served it (from ``/proc``, so run it on the database's host).
"""

from __future__ import annotations

import asyncio

from bench.db_rounds import checked_options, measure_rounds, rounds_parser, seeded_school
from classroom.roles import Principal, Role
from classroom.room_contents import room_contents
from classroom.rooms import Room, find_room


async def _measure(students: int, entries: int, rounds: int, admin_url: str) -> None:
    async with seeded_school(students, admin_url) as (db, seats, backend):
        rooms: dict[int, Room] = {}
        for lesson_id in sorted({seat.lesson_id for seat in seats}):
            room = await find_room(db, lesson_id)
            assert room is not None
            rooms[lesson_id] = room
        school_id = next(iter(rooms.values())).lesson.school_id
        viewers = [
            (rooms[seat.lesson_id], Principal(seat.student_id, Role.STUDENT, school_id))
            for seat in seats
        ]

        async def enter(count: int) -> None:
            for index in range(count):
                room, viewer = viewers[index % len(viewers)]
                contents = await room_contents(db, room, viewer)
                assert contents.messages == [] and contents.hands == []

        await measure_rounds(
            enter, backend=backend, warm_up=200, count=entries, rounds=rounds, unit="entry"
        )


def main() -> None:
    parser = rounds_parser(
        __doc__.splitlines()[0],
        students=3000,
        count="entries",
        count_default=2000,
        count_help="entries per round",
    )
    options = checked_options(parser, "entries")
    asyncio.run(_measure(options.students, options.entries, options.rounds, options.postgres_url))


if __name__ == "__main__":
    main()
