"""What entering a room needs to know of a lesson, kept in process for a short while.

A storm of joins reads the same few facts again and again: the lesson and its room's
switches, who is in the class, the students' link generations and who was removed. They
are read once per lesson and kept for ``ttl_seconds``. Whoever changes them (lock, end,
remove, revoke, the teacher's arrival, opening) calls ``forget`` on every node — through
the bus — so a stale entry lives at most until that notice arrives, and never longer than
the time to live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import bindparam, select

from classroom.errors import NotFound
from classroom.rooms import Author, LessonFacts, Room, find_room
from classroom.storage.database import Database
from classroom.storage.direct import DirectRead
from classroom.storage.models import Enrolment, JoinLinkGeneration, Person, RoomExclusion

DEFAULT_TTL_SECONDS = 300.0
"""About the minutes in which a class arrives: each node reads a lesson's facts once per
arrival window rather than once per join when its students come minutes apart. Staff's changes are
announced at once; this bounds only what is not announced (enrolments, names)."""
DEFAULT_SIZE = 20_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LessonEntry:
    """Who may come into a lesson: the class, link generations and removals."""

    enrolled: frozenset[int]
    generations: dict[int, int]
    excluded: frozenset[int]
    authors: dict[int, Author]
    """How the class's students appear in the room."""

    def facts_of(self, student_id: int) -> tuple[bool, int, bool]:
        """Enrolled, current link generation, removed — as ``rooms.check_entry`` needs."""
        return (
            student_id in self.enrolled,
            self.generations.get(student_id, 0),
            student_id in self.excluded,
        )


# The three reads of a lesson not kept, built once: building a statement through
# SQLAlchemy cost more than running it.
_STUDENTS_OF_CLASS = DirectRead(
    select(Enrolment.student_id, Person.display_name, Person.role)
    .join(Person, Person.id == Enrolment.student_id)
    .where(Enrolment.class_id == bindparam("class_id"))
)
_LINK_GENERATIONS = DirectRead(
    select(JoinLinkGeneration.person_id, JoinLinkGeneration.generation).where(
        JoinLinkGeneration.lesson_id == bindparam("lesson_id")
    )
)
_REMOVED = DirectRead(
    select(RoomExclusion.person_id).where(RoomExclusion.lesson_id == bindparam("lesson_id"))
)


async def load_entry(db: Database, lesson: LessonFacts) -> LessonEntry:
    """The entry facts of a whole lesson, read on one connection."""
    async with db.direct() as connection:
        students = await _STUDENTS_OF_CLASS.rows(connection, {"class_id": lesson.class_id})
        generations = await _LINK_GENERATIONS.rows(connection, {"lesson_id": lesson.id})
        excluded = await _REMOVED.rows(connection, {"lesson_id": lesson.id})
    authors = {int(id_): Author(int(id_), name, role) for id_, name, role in students}
    current = {int(person): int(generation) for person, generation in generations}
    removed = frozenset(int(person) for (person,) in excluded)
    return LessonEntry(frozenset(authors), current, removed, authors)


class _Kept(Generic[T]):
    """One kind of per-lesson value: kept until forgotten or older than the time to live;
    callers asking while it loads wait for the same load."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._values: dict[int, tuple[float, T]] = {}
        self._loading: dict[int, asyncio.Future[T]] = {}
        self._versions: dict[int, int] = {}

    async def get(self, lesson_id: int, load: Callable[[], Awaitable[T]]) -> T:
        kept = self._values.get(lesson_id)
        if kept is not None and self._clock() - kept[0] < self._ttl:
            return kept[1]
        pending = self._loading.get(lesson_id)
        if pending is not None:
            return await asyncio.shield(pending)
        version = self._versions.get(lesson_id, 0)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._loading[lesson_id] = future
        started = self._clock()
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a load nobody else waited for fails quietly
            raise
        finally:
            if self._loading.get(lesson_id) is future:
                del self._loading[lesson_id]
        future.set_result(value)
        if self._versions.get(lesson_id, 0) == version:  # not forgotten while it loaded
            if len(self._values) >= self._size and lesson_id not in self._values:
                self._values.pop(next(iter(self._values)))
            self._values[lesson_id] = (started, value)
        return value

    def peek(self, lesson_id: int) -> T | None:
        """The value if it is kept and fresh, without reading it."""
        kept = self._values.get(lesson_id)
        if kept is None or self._clock() - kept[0] >= self._ttl:
            return None
        return kept[1]

    def forget(self, lesson_id: int) -> None:
        self._values.pop(lesson_id, None)
        self._loading.pop(lesson_id, None)
        self._versions[lesson_id] = self._versions.get(lesson_id, 0) + 1

    def clear(self) -> None:
        for lesson_id in list(self._values) + list(self._loading):
            self.forget(lesson_id)


class RoomCache:
    """Rooms and their entry facts by lesson, for the join path."""

    def __init__(
        self,
        db: Database,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._rooms: _Kept[Room | None] = _Kept(ttl_seconds, size, clock)
        self._entries: _Kept[LessonEntry] = _Kept(ttl_seconds, size, clock)

    async def room(self, lesson_id: int, school_id: int) -> Room:
        """The room of a lesson of the caller's school; ``NotFound`` for any other."""
        # Read whatever the school, so that joins of the lesson's own school that wait
        # for the same read are not refused because someone else's started it.
        room = await self._rooms.get(lesson_id, lambda: find_room(self._db, lesson_id))
        if room is None:
            self._rooms.forget(lesson_id)  # a lesson added later is found at once
        if room is None or room.lesson.school_id != school_id:
            raise NotFound("there is no such lesson", code="lesson_not_found")
        return room

    async def entry_facts(self, lesson: LessonFacts, student_id: int) -> tuple[bool, int, bool]:
        """For ``rooms.check_entry``: enrolled, link generation, removed."""
        entry = await self._entries.get(lesson.id, lambda: load_entry(self._db, lesson))
        return entry.facts_of(student_id)

    def known_author(self, lesson_id: int, person_id: int) -> Author | None:
        """How a student of the lesson's class appears, if their class is kept now."""
        entry = self._entries.peek(lesson_id)
        return None if entry is None else entry.authors.get(person_id)

    def forget(self, lesson_id: int) -> None:
        """Something about the lesson's room changed: read it again next time."""
        self._rooms.forget(lesson_id)
        self._entries.forget(lesson_id)

    def clear(self) -> None:
        self._rooms.clear()
        self._entries.clear()
