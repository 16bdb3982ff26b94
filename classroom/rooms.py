"""Lesson rooms: the live room of a lesson occurrence, its states and who may enter.

A room is ``scheduled`` until it opens (the teacher opens it, or an online lesson opens by
itself a few minutes before the start), ``open`` while students wait in the lobby, ``live``
from the teacher's first entry, and ``ended`` when the teacher ends it or its time runs out.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from classroom import join_links
from classroom.errors import Forbidden, InvalidInput, NotFound
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.direct import DirectRead
from classroom.storage.models import (
    Enrolment,
    JoinLinkGeneration,
    LessonOccurrence,
    LessonRoom,
    PanelBinding,
    Person,
    RoomExclusion,
    SchoolClass,
    Subject,
)

MAX_CHAT_LENGTH = 2000

# Aliases are made once: making one copies every column of the table.
_TEACHER = aliased(Person, name="teacher")


class RoomState(enum.StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    LIVE = "live"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class RoomTimes:
    """The clock of lesson rooms (all configurable)."""

    opens_before: dt.timedelta = dt.timedelta(minutes=5)
    overrun: dt.timedelta = dt.timedelta(minutes=10)
    reconnect_grace: dt.timedelta = dt.timedelta(seconds=15)
    absence_after: dt.timedelta = dt.timedelta(minutes=5)
    links_shown_before: dt.timedelta = dt.timedelta(hours=48)


class Author(msgspec.Struct, frozen=True):
    id: int
    display_name: str
    role: Role


class LessonFacts(msgspec.Struct, frozen=True):
    """What a room needs to know of its lesson."""

    id: int
    school_id: int
    class_id: int
    class_name: str
    teacher_id: int
    teacher_name: str
    subject: str
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    online: bool


class RoomSwitches(msgspec.Struct, frozen=True):
    locked: bool = False
    chat_locked: bool = False
    muted_all: bool = False


@dataclass(frozen=True, slots=True)
class Room:
    lesson: LessonFacts
    opened_at: dt.datetime | None
    live_at: dt.datetime | None
    ended_at: dt.datetime | None
    switches: RoomSwitches

    def closes_at(self, times: RoomTimes) -> dt.datetime:
        """When the room ends by itself if the teacher does not end it first."""
        return self.lesson.ends_at + times.overrun

    def opens_at(self, times: RoomTimes) -> dt.datetime | None:
        """When the room opens by itself (online lessons only)."""
        return self.lesson.starts_at - times.opens_before if self.lesson.online else None

    def state(self, now: dt.datetime, times: RoomTimes) -> RoomState:
        if self.ended_at is not None or now >= self.closes_at(times):
            return RoomState.ENDED
        if self.live_at is not None:
            return RoomState.LIVE
        opens_at = self.opens_at(times)
        if self.opened_at is not None or (opens_at is not None and now >= opens_at):
            return RoomState.OPEN
        return RoomState.SCHEDULED


class RoomStatus(msgspec.Struct, frozen=True):
    """The room's state as every member sees it (the ``room.state`` event)."""

    lesson_id: int
    state: RoomState
    switches: RoomSwitches
    closes_at: dt.datetime


def room_status(room: Room, now: dt.datetime, times: RoomTimes) -> RoomStatus:
    return RoomStatus(
        lesson_id=room.lesson.id,
        state=room.state(now, times),
        switches=room.switches,
        closes_at=room.ended_at or room.closes_at(times),
    )


def room_channel(lesson_id: int) -> str:
    """The bus channel of a lesson's live room (everyone in it)."""
    return f"room:{lesson_id}"


def staff_channel(lesson_id: int) -> str:
    """The bus channel of what only the lesson's teacher sees (live attendance)."""
    return f"room:{lesson_id}:staff"


def ink_channel(lesson_id: int) -> str:
    """The bus channel of strokes while they are drawn and the laser pointer (not kept)."""
    return f"room:{lesson_id}:ink"


def user_channel(person_id: int) -> str:
    """The bus channel of one person's live notices and private messages."""
    return f"user:{person_id}"


async def load_room(db: Database, lesson_id: int, school_id: int) -> Room:
    """The room of a lesson of the caller's school; ``NotFound`` for any other."""
    room = await find_room(db, lesson_id)
    if room is None or room.lesson.school_id != school_id:
        raise NotFound("there is no such lesson", code="lesson_not_found")
    return room


# A room entry that finds its lesson not kept reads it with this, built once (building a
# statement costs more than running it).
_ROOM_OF_LESSON = DirectRead(
    select(
        LessonOccurrence.id,
        SchoolClass.school_id,
        LessonOccurrence.class_id,
        SchoolClass.name,
        LessonOccurrence.teacher_id,
        _TEACHER.display_name,
        Subject.name,
        LessonOccurrence.date,
        LessonOccurrence.starts_at,
        LessonOccurrence.ends_at,
        LessonOccurrence.online,
        LessonRoom.lesson_id,
        LessonRoom.opened_at,
        LessonRoom.live_at,
        LessonRoom.ended_at,
        LessonRoom.locked,
        LessonRoom.chat_locked,
        LessonRoom.muted_all,
    )
    .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
    .join(_TEACHER, _TEACHER.id == LessonOccurrence.teacher_id)
    .join(Subject, Subject.id == LessonOccurrence.subject_id)
    .outerjoin(LessonRoom, LessonRoom.lesson_id == LessonOccurrence.id)
    .where(LessonOccurrence.id == bindparam("lesson_id"))
)


async def find_room(db: Database, lesson_id: int) -> Room | None:
    """The room of a lesson of any school (the caller checks the school)."""
    async with db.direct() as connection:
        rows = await _ROOM_OF_LESSON.rows(connection, {"lesson_id": lesson_id})
    row = rows[0] if rows else None
    if row is None:
        return None
    (
        _id,
        school_id,
        class_id,
        class_name,
        teacher_id,
        teacher_name,
        subject,
        date,
        starts_at,
        ends_at,
        online,
        room_row,
        opened_at,
        live_at,
        ended_at,
        locked,
        chat_locked,
        muted_all,
    ) = row
    facts = LessonFacts(
        id=lesson_id,
        school_id=school_id,
        class_id=class_id,
        class_name=class_name,
        teacher_id=teacher_id,
        teacher_name=teacher_name,
        subject=subject,
        date=date,
        starts_at=starts_at,
        ends_at=ends_at,
        online=online,
    )
    if room_row is None:
        return Room(facts, None, None, None, RoomSwitches())
    return Room(
        facts,
        opened_at,
        live_at,
        ended_at,
        RoomSwitches(bool(locked), bool(chat_locked), bool(muted_all)),
    )


def is_teacher(room: Room, principal: Principal) -> bool:
    """The lesson's own teacher, or the school's admin, who may run the room."""
    return principal.role is Role.ADMIN or (
        principal.role is Role.TEACHER and principal.person_id == room.lesson.teacher_id
    )


def require_teacher(room: Room, principal: Principal) -> None:
    if not is_teacher(room, principal):
        raise Forbidden("only the lesson's teacher may do this", code="not_the_teacher")


async def is_enrolled(db: Database, student_id: int, class_id: int) -> bool:
    async with db.session() as session:
        found = await session.scalar(
            select(Enrolment.student_id).where(
                Enrolment.student_id == student_id, Enrolment.class_id == class_id
            )
        )
    return found is not None


async def _entry_facts(
    db: Database, lesson: LessonFacts, student_id: int
) -> tuple[bool, int, bool]:
    """In one query: is the student in the lesson's class, their link's generation, and
    whether the teacher removed them."""
    enrolled = (
        select(Enrolment.student_id)
        .where(Enrolment.student_id == student_id, Enrolment.class_id == lesson.class_id)
        .exists()
    )
    generation = (
        select(JoinLinkGeneration.generation)
        .where(
            JoinLinkGeneration.lesson_id == lesson.id,
            JoinLinkGeneration.person_id == student_id,
        )
        .scalar_subquery()
    )
    excluded = (
        select(RoomExclusion.person_id)
        .where(RoomExclusion.lesson_id == lesson.id, RoomExclusion.person_id == student_id)
        .exists()
    )
    async with db.session() as session:
        row = (await session.execute(select(enrolled, generation, excluded))).one()
    return bool(row[0]), int(row[1] or 0), bool(row[2])


EntryFacts = Callable[[LessonFacts, int], Awaitable[tuple[bool, int, bool]]]
"""Reads a student's entry facts of a lesson: enrolled, link generation, removed."""


async def check_entry(
    db: Database,
    links: join_links.JoinLinks,
    principal: Principal,
    room: Room,
    link: str | None,
    *,
    now: dt.datetime,
    times: RoomTimes,
    entry_facts: EntryFacts | None = None,
) -> None:
    """Let the teacher (and the admin) in at any time before the end; let a student of the
    class in with a valid join link of their own while the room is open, unlocked and they
    were not removed. Everyone else is refused with a reason. ``entry_facts`` reads the
    student's facts (the database by default; a cache on the join path)."""
    state = room.state(now, times)
    if state is RoomState.ENDED:
        raise Forbidden("this lesson has ended", code="room_ended")
    if is_teacher(room, principal):
        return
    if principal.role is Role.PANEL:
        if not await panel_bound_to(db, principal.person_id, room.lesson.id):
            raise Forbidden("pair this panel with the lesson first", code="panel_not_paired")
        return
    if principal.role is not Role.STUDENT:
        raise Forbidden("you are not a participant of this lesson", code="not_a_participant")
    if entry_facts is None:
        facts = await _entry_facts(db, room.lesson, principal.person_id)
    else:
        facts = await entry_facts(room.lesson, principal.person_id)
    enrolled, current, excluded = facts
    if not enrolled:
        raise Forbidden("you are not a participant of this lesson", code="not_a_participant")
    if link is None:
        raise Forbidden("open the lesson from its join link", code="link_required")
    claims = links.read(link, now=now)
    join_links.check_claims(claims, room.lesson.id, principal.person_id, current)
    if excluded:
        raise Forbidden("the teacher has removed you from this lesson", code="removed")
    if state is RoomState.SCHEDULED:
        raise Forbidden("this lesson has not opened yet", code="room_not_open")
    if room.switches.locked:
        raise Forbidden("the teacher has locked this lesson", code="room_locked")


async def panel_bound_to(db: Database, panel_id: int, lesson_id: int) -> bool:
    """Whether a classroom panel is bound to this lesson (see ``classroom.panels``)."""
    async with db.session() as session:
        bound = await session.scalar(
            select(PanelBinding.lesson_id).where(PanelBinding.panel_id == panel_id)
        )
    return bound == lesson_id


async def _room_row(session: AsyncSession, lesson_id: int) -> LessonRoom:
    row = await session.get(LessonRoom, lesson_id)
    if row is None:
        row = LessonRoom(lesson_id=lesson_id, locked=False, chat_locked=False, muted_all=False)
        session.add(row)
    return row


async def open_room(
    db: Database, principal: Principal, room: Room, *, now: dt.datetime, times: RoomTimes
) -> Room:
    """The teacher opens the room from the timetable: students may wait in the lobby."""
    require_teacher(room, principal)
    if room.state(now, times) is RoomState.ENDED:
        raise Forbidden("this lesson has ended", code="room_ended")
    async with db.session() as session:
        row = await _room_row(session, room.lesson.id)
        row.opened_at = row.opened_at or now
        await session.commit()
    return await load_room(db, room.lesson.id, room.lesson.school_id)


async def teacher_arrived(db: Database, room: Room, *, now: dt.datetime) -> bool:
    """Mark the room live at the teacher's first entry; ``True`` if it just went live."""
    if room.live_at is not None:
        return False
    async with db.session() as session:
        row = await _room_row(session, room.lesson.id)
        went_live = row.live_at is None
        row.opened_at = row.opened_at or now
        row.live_at = row.live_at or now
        await session.commit()
    return went_live


class SwitchChange(msgspec.Struct, frozen=True):
    locked: bool | None = None
    chat_locked: bool | None = None
    muted_all: bool | None = None


async def set_switches(
    db: Database, principal: Principal, room: Room, change: SwitchChange
) -> Room:
    """Lock the room or its chat, or mute everyone (teacher only)."""
    require_teacher(room, principal)
    async with db.session() as session:
        row = await _room_row(session, room.lesson.id)
        if change.locked is not None:
            row.locked = change.locked
        if change.chat_locked is not None:
            row.chat_locked = change.chat_locked
        if change.muted_all is not None:
            row.muted_all = change.muted_all
        await session.commit()
    return await load_room(db, room.lesson.id, room.lesson.school_id)


async def end_room(db: Database, principal: Principal, room: Room, *, now: dt.datetime) -> None:
    require_teacher(room, principal)
    async with db.session() as session:
        row = await _room_row(session, room.lesson.id)
        row.ended_at = row.ended_at or now
        # A classroom panel shows a lesson until it ends.
        await session.execute(delete(PanelBinding).where(PanelBinding.lesson_id == room.lesson.id))
        await session.commit()


async def remove_participant(
    db: Database, principal: Principal, room: Room, person_id: int, *, now: dt.datetime
) -> None:
    """Remove a student from the room; they cannot come back into this lesson."""
    require_teacher(room, principal)
    if person_id == room.lesson.teacher_id:
        raise InvalidInput("the teacher cannot be removed", code="cannot_remove_teacher")
    if not await is_enrolled(db, person_id, room.lesson.class_id):
        raise NotFound("there is no such student in this class", code="student_not_found")
    async with db.session() as session:
        if await session.get(RoomExclusion, (room.lesson.id, person_id)) is None:
            session.add(RoomExclusion(lesson_id=room.lesson.id, person_id=person_id, at=now))
        await session.commit()


async def revoke_link(db: Database, principal: Principal, room: Room, person_id: int) -> int:
    """Invalidate a student's join link for this lesson; a new one shows in their timetable."""
    require_teacher(room, principal)
    if not await is_enrolled(db, person_id, room.lesson.class_id):
        raise NotFound("there is no such student in this class", code="student_not_found")
    return await join_links.revoke(db, room.lesson.id, person_id)


async def author_of(db: Database, person_id: int) -> Author:
    """How a person appears in a room (name and role only)."""
    async with db.reader() as connection:
        row = (
            await connection.execute(
                select(Person.display_name, Person.role).where(Person.id == person_id)
            )
        ).first()
    if row is None:
        raise NotFound("this account no longer exists", code="account_not_found")
    return Author(id=person_id, display_name=row[0], role=row[1])


class Authors:
    """How people appear in rooms, read from the database at most once a minute per person
    (names rarely change, and every join and message needs one)."""

    def __init__(self, db: Database, *, ttl_seconds: float = 60.0, size: int = 100_000) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._size = size
        self._known: dict[int, tuple[float, Author]] = {}

    async def of(self, person_id: int) -> Author:
        now = time.monotonic()
        known = self._known.get(person_id)
        if known is not None and now - known[0] < self._ttl:
            return known[1]
        found = await author_of(self._db, person_id)
        if len(self._known) >= self._size:
            self._known.pop(next(iter(self._known)))
        self._known[person_id] = (now, found)
        return found
