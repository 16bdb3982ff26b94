"""A person's timetable as an iCalendar feed at a secret address (one per person, made
again to change it, deleted to revoke it). Only the address's SHA-256 is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select

from classroom import audit, timetable
from classroom.diary.tables import DiaryCalendarFeed
from classroom.errors import Forbidden, NotFound
from classroom.join_links import JoinLinks
from classroom.roles import Principal, Role
from classroom.rooms import RoomTimes
from classroom.storage.database import Database
from classroom.storage.models import Person
from classroom.timetable import LessonView

DAYS_BEHIND = 7
DAYS_AHEAD = 28
TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def make_feed(db: Database, principal: Principal, *, now: dt.datetime) -> str:
    """A new secret token for the caller's feed; an earlier one stops working."""
    if principal.role is Role.PANEL:
        raise Forbidden("a panel has no timetable", code="no_timetable")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with db.session() as session:
        await session.execute(
            delete(DiaryCalendarFeed).where(DiaryCalendarFeed.person_id == principal.person_id)
        )
        session.add(
            DiaryCalendarFeed(
                person_id=principal.person_id, token_hash=_digest(token), created_at=now
            )
        )
        audit.record(session, action="calendar_feed_made", actor_id=principal.person_id)
        await session.commit()
    return token


async def revoke_feed(db: Database, principal: Principal) -> None:
    async with db.session() as session:
        done = await session.execute(
            delete(DiaryCalendarFeed).where(DiaryCalendarFeed.person_id == principal.person_id)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise NotFound("you have no calendar feed", code="feed_not_found")
        audit.record(session, action="calendar_feed_revoked", actor_id=principal.person_id)
        await session.commit()


async def owner_of(db: Database, token: str) -> Principal:
    """The person whose feed this token opens; ``NotFound`` for a revoked or unknown one."""
    if not token or len(token) > 128:
        raise NotFound("there is no such calendar", code="feed_not_found")
    async with db.session() as session:
        row = (
            await session.execute(
                select(Person)
                .join(DiaryCalendarFeed, DiaryCalendarFeed.person_id == Person.id)
                .where(DiaryCalendarFeed.token_hash == _digest(token), Person.active.is_(True))
            )
        ).scalar_one_or_none()
    if row is None:
        raise NotFound("there is no such calendar", code="feed_not_found")
    return Principal(row.id, row.role, row.school_id)


async def feed(
    db: Database,
    links: JoinLinks,
    principal: Principal,
    *,
    today: dt.date,
    now: dt.datetime,
    times: RoomTimes,
    base_url: str,
) -> str:
    date_from = today - dt.timedelta(days=DAYS_BEHIND)
    date_to = today + dt.timedelta(days=DAYS_AHEAD)
    lessons = await timetable.lessons_for(db, principal, date_from, date_to)
    lessons = await timetable.with_join_links(db, links, principal, lessons, now=now, times=times)
    return render(lessons, now=now, base_url=base_url)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """RFC 5545 lines are at most 75 octets; longer ones continue after a space."""
    out, current = [], ""
    for char in line:
        if len((current + char).encode()) > 75:
            out.append(current)
            current = " " + char
        else:
            current += char
    out.append(current)
    return out


def render(lessons: list[LessonView], *, now: dt.datetime, base_url: str) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//urok//timetable//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for lesson in lessons:
        summary = lesson.subject
        if lesson.child is not None:
            summary += f" ({lesson.child.display_name})"
        description = f"{lesson.school_class.name}, {lesson.teacher}"
        event = [
            "BEGIN:VEVENT",
            f"UID:lesson-{lesson.id}-{lesson.child.id if lesson.child else 0}@urok",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(lesson.starts_at)}",
            f"DTEND:{_stamp(lesson.ends_at)}",
            f"SUMMARY:{_escape(summary)}",
        ]
        if lesson.online:
            url = base_url + (lesson.join_url or "/today")
            description += f"\nOnline: {url}"
            event += [f"URL:{_escape(url)}", "LOCATION:Online"]
        event += [f"DESCRIPTION:{_escape(description)}", "END:VEVENT"]
        lines += event
    lines.append("END:VCALENDAR")
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
