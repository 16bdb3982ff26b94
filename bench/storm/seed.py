"""Seed a school for the storm in bulk: classes of 30, one teacher and one online lesson
per class starting at the bell, rooms already live (the teachers came early); then mint each
student's token and link."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, text

from bench.storm.plan import Seat
from classroom.join_links import JoinLinks
from classroom.roles import Principal, Role
from classroom.storage.database import Database
from classroom.storage.models import (
    Enrolment,
    LessonOccurrence,
    LessonRoom,
    Person,
    School,
    SchoolClass,
    Subject,
)
from classroom.tokens import TokenService

CLASS_SIZE = 30
CHUNK = 2000
NO_PASSWORD = "!"  # not an Argon2 hash: nobody can sign in with these accounts


async def _insert_ids(db: Database, table: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    async with db.session() as session:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            result = await session.execute(
                insert(table).returning(table.id, sort_by_parameter_order=True), chunk
            )
            ids.extend(result.scalars().all())
        await session.commit()
    return ids


async def _insert(db: Database, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    async with db.session() as session:
        for start in range(0, len(rows), CHUNK):
            await session.execute(insert(table), rows[start : start + CHUNK])
        await session.commit()


async def _analyze(db: Database) -> None:
    """Give the query planner statistics of the seeded tables, as a school's database in
    service has them (autovacuum's ANALYZE). Without them PostgreSQL takes the freshly
    filled ``person`` table for a few hundred rows and reads all of it to load a class."""
    async with db.autocommit() as connection:
        await connection.execute(text("ANALYZE"))


async def seed_storm(
    db: Database,
    students: int,
    *,
    secret_key: str,
    token_ttl: int,
    room_overrun: dt.timedelta,
    bell_in: dt.timedelta = dt.timedelta(minutes=-1),
    now: dt.datetime | None = None,
) -> list[Seat]:
    """Create the school and return every student's seat (token and join link); the
    lessons start ``bell_in`` from now (negative: they started that long ago)."""
    now = now or dt.datetime.now(dt.UTC)
    starts = now + bell_in
    ends = starts + dt.timedelta(minutes=45)
    classes = math.ceil(students / CLASS_SIZE)
    school_id = (await _insert_ids(db, School, [{"name": "Storm", "timezone": "UTC"}]))[0]
    subject_id = (await _insert_ids(db, Subject, [{"school_id": school_id, "name": "Math"}]))[0]
    class_ids = await _insert_ids(
        db,
        SchoolClass,
        [{"school_id": school_id, "name": f"c{i}", "grade": 5} for i in range(classes)],
    )

    def person(username: str, name: str, role: Role) -> dict[str, Any]:
        return {
            "school_id": school_id,
            "username": username,
            "password_hash": NO_PASSWORD,
            "display_name": name,
            "role": role,
            "active": True,
        }

    teacher_ids = await _insert_ids(
        db,
        Person,
        [person(f"storm-t{i}", f"Teacher {i}", Role.TEACHER) for i in range(classes)],
    )
    student_ids = await _insert_ids(
        db,
        Person,
        [person(f"storm-s{i}", f"Student {i}", Role.STUDENT) for i in range(students)],
    )
    class_of = [class_ids[i // CLASS_SIZE] for i in range(students)]
    await _insert(
        db,
        Enrolment,
        [{"student_id": s, "class_id": c} for s, c in zip(student_ids, class_of, strict=True)],
    )
    lesson_ids = await _insert_ids(
        db,
        LessonOccurrence,
        [
            {
                "timetable_entry_id": None,
                "class_id": class_id,
                "subject_id": subject_id,
                "teacher_id": teacher_id,
                "date": starts.date(),
                "starts_at": starts,
                "ends_at": ends,
                "online": True,
            }
            for class_id, teacher_id in zip(class_ids, teacher_ids, strict=True)
        ],
    )
    # Live already, as if each teacher had entered first (rooms.teacher_arrived).
    await _insert(
        db,
        LessonRoom,
        [
            {
                "lesson_id": lesson_id,
                "opened_at": min(starts, now),
                "live_at": min(starts, now),
                "locked": False,
                "chat_locked": False,
                "muted_all": False,
            }
            for lesson_id in lesson_ids
        ],
    )
    await _analyze(db)
    tokens = TokenService(secret_key, token_ttl)
    links = JoinLinks(secret_key)
    link_expiry = ends + room_overrun
    seats = []
    for index, student_id in enumerate(student_ids):
        lesson_id = lesson_ids[index // CLASS_SIZE]
        seats.append(
            Seat(
                student_id=student_id,
                lesson_id=lesson_id,
                token=tokens.issue(Principal(student_id, Role.STUDENT, school_id)),
                link=links.issue(lesson_id, student_id, 0, link_expiry),
                rank=index % CLASS_SIZE,
            )
        )
    return seats
