"""The timetable: weekly entries, the lesson occurrences made from them, and who sees which."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from classroom import audit, join_links
from classroom.errors import Forbidden, InvalidInput
from classroom.join_links import JoinLinks
from classroom.people import ChildRef, ClassRef, children_of
from classroom.roles import Principal, Role
from classroom.rooms import RoomTimes
from classroom.storage.database import Database
from classroom.storage.models import (
    Enrolment,
    LessonOccurrence,
    Person,
    SchoolClass,
    Subject,
    TimetableEntry,
)

MAX_RANGE_DAYS = 62

# Aliases are made once: making one copies every column of the table.
_TEACHER = aliased(Person, name="teacher")


class LessonView(msgspec.Struct, frozen=True):
    """A lesson as a timetable shows it; ``child`` says which child it concerns (parents)."""

    id: int
    date: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    subject: str
    school_class: ClassRef
    teacher: str
    online: bool
    child: ChildRef | None = None
    join_url: str | None = None


def check_range(date_from: dt.date, date_to: dt.date) -> None:
    """Refuse an inverted or too long range (it bounds the size of a reply)."""
    if date_to < date_from:
        raise InvalidInput("'to' is before 'from'", code="bad_range")
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"a range spans at most {MAX_RANGE_DAYS} days", code="range_too_long")


def _lesson_query(date_from: dt.date, date_to: dt.date) -> Select[*tuple[Any, ...]]:
    teacher = _TEACHER
    return (
        select(
            LessonOccurrence.id,
            LessonOccurrence.date,
            LessonOccurrence.starts_at,
            LessonOccurrence.ends_at,
            Subject.name,
            SchoolClass.id,
            SchoolClass.name,
            teacher.display_name,
            LessonOccurrence.online,
        )
        .join(Subject, Subject.id == LessonOccurrence.subject_id)
        .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
        .join(teacher, teacher.id == LessonOccurrence.teacher_id)
        .where(LessonOccurrence.date >= date_from, LessonOccurrence.date <= date_to)
        .order_by(LessonOccurrence.starts_at, SchoolClass.name)
    )


def _views(rows: Iterable[Sequence[object]], child: ChildRef | None = None) -> list[LessonView]:
    views = []
    for lid, date, starts, ends, subject, class_id, class_name, teacher, online in rows:
        views.append(
            LessonView(
                id=lid,  # type: ignore[arg-type]
                date=date,  # type: ignore[arg-type]
                starts_at=starts,  # type: ignore[arg-type]
                ends_at=ends,  # type: ignore[arg-type]
                subject=subject,  # type: ignore[arg-type]
                school_class=ClassRef(id=class_id, name=class_name),  # type: ignore[arg-type]
                teacher=teacher,  # type: ignore[arg-type]
                online=online,  # type: ignore[arg-type]
                child=child,
            )
        )
    return views


async def lessons_for(
    db: Database, principal: Principal, date_from: dt.date, date_to: dt.date
) -> list[LessonView]:
    """The lessons a person may see in the range: a teacher's own, a student's class's,
    a parent's children's (each marked with the child), the whole school for an admin."""
    check_range(date_from, date_to)
    query = _lesson_query(date_from, date_to)
    async with db.session() as session:
        if principal.role is Role.TEACHER:
            query = query.where(LessonOccurrence.teacher_id == principal.person_id)
            return _views((await session.execute(query)).all())
        if principal.role is Role.STUDENT:
            query = query.join(Enrolment, Enrolment.class_id == LessonOccurrence.class_id).where(
                Enrolment.student_id == principal.person_id
            )
            return _views((await session.execute(query)).all())
        if principal.role is Role.ADMIN:
            query = query.where(SchoolClass.school_id == principal.school_id)
            return _views((await session.execute(query)).all())
        if principal.role is Role.PARENT:
            return await _children_lessons(db, session, principal, query)
    raise Forbidden("this account has no timetable", code="no_timetable")


async def _children_lessons(
    db: Database, session: AsyncSession, principal: Principal, query: Select[*tuple[Any, ...]]
) -> list[LessonView]:
    lessons: list[LessonView] = []
    for child in await children_of(db, principal.person_id):
        if child.school_class is None:
            continue
        rows = (
            await session.execute(query.where(LessonOccurrence.class_id == child.school_class.id))
        ).all()
        lessons.extend(_views(rows, child))
        audit.record(
            session, action="timetable_read", actor_id=principal.person_id, subject_id=child.id
        )
    await session.commit()
    lessons.sort(key=lambda lesson: (lesson.starts_at, lesson.school_class.name))
    return lessons


async def with_join_links(
    db: Database,
    links: JoinLinks,
    principal: Principal,
    lessons: list[LessonView],
    *,
    now: dt.datetime,
    times: RoomTimes,
) -> list[LessonView]:
    """The lessons with the join link of each online lesson whose time has come: from
    ``links_shown_before`` the start until the room closes. A student gets their own link,
    a parent their child's, a teacher the room's page."""

    def shown(lesson: LessonView) -> bool:
        return lesson.online and (
            lesson.starts_at - times.links_shown_before <= now < lesson.ends_at + times.overrun
        )

    wanted = [lesson for lesson in lessons if shown(lesson)]
    if not wanted:
        return lessons
    if principal.role in (Role.TEACHER, Role.ADMIN):
        urls = {lesson.id: f"/lesson/{lesson.id}" for lesson in wanted}
        return [msgspec.structs.replace(lesson, join_url=urls.get(lesson.id)) for lesson in lessons]

    def person_of(lesson: LessonView) -> int:
        return lesson.child.id if lesson.child is not None else principal.person_id

    async with db.session() as session:
        current = await join_links.generations(
            session,
            [lesson.id for lesson in wanted],
            sorted({person_of(lesson) for lesson in wanted}),
        )
    made = []
    for lesson in lessons:
        if not shown(lesson):
            made.append(lesson)
            continue
        person = person_of(lesson)
        token = links.issue(
            lesson.id,
            person,
            current.get((lesson.id, person), 0),
            lesson.ends_at + times.overrun,
        )
        made.append(msgspec.structs.replace(lesson, join_url=join_links.join_url(lesson.id, token)))
    return made


def occurrences_from_entries(
    entries: Iterable[TimetableEntry], date_from: dt.date, date_to: dt.date, timezone: str
) -> list[LessonOccurrence]:
    """The lesson occurrences the weekly entries make on each date of the range."""
    zone = ZoneInfo(timezone)
    made = []
    by_weekday: dict[int, list[TimetableEntry]] = {}
    for entry in entries:
        by_weekday.setdefault(entry.weekday, []).append(entry)
    day = date_from
    while day <= date_to:
        for entry in by_weekday.get(day.weekday(), []):
            if entry.valid_from > day or (entry.valid_until and entry.valid_until < day):
                continue
            made.append(
                LessonOccurrence(
                    timetable_entry_id=entry.id,
                    class_id=entry.class_id,
                    subject_id=entry.subject_id,
                    teacher_id=entry.teacher_id,
                    date=day,
                    starts_at=dt.datetime.combine(day, entry.starts, zone).astimezone(dt.UTC),
                    ends_at=dt.datetime.combine(day, entry.ends, zone).astimezone(dt.UTC),
                    online=entry.online,
                )
            )
        day += dt.timedelta(days=1)
    return made
