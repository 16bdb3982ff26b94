"""The school's storage and domain rules, run on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from classroom import people, timetable
from classroom.demo import DEMO_PASSWORD, seed_demo_school
from classroom.errors import Forbidden, InvalidInput, Unauthenticated
from classroom.roles import Role
from classroom.storage.database import Database
from classroom.storage.models import (
    AuditEntry,
    Base,
    Enrolment,
    Guardianship,
    LessonOccurrence,
    Person,
    SchoolClass,
)
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

TODAY = DEMO_DAY


async def count(db: Database, query: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(query))  # type: ignore[arg-type]


async def test_demo_school_has_the_promised_shape(db: Database) -> None:
    async with db.session() as session:
        roles = dict(
            (await session.execute(select(Person.role, func.count()).group_by(Person.role))).all()
        )
        classes = (await session.execute(select(SchoolClass.name).order_by(SchoolClass.name))).all()
        per_class = (
            await session.execute(
                select(Enrolment.class_id, func.count()).group_by(Enrolment.class_id)
            )
        ).all()
    assert [c for (c,) in classes] == ["5А", "6Б", "7В"]
    assert sorted(n for _, n in per_class) == [25, 25, 25]
    assert roles[Role.STUDENT] == 75
    assert roles[Role.TEACHER] == 6
    assert roles[Role.PANEL] == 1
    assert roles[Role.ADMIN] == 1
    assert roles[Role.PARENT] == 74  # one parent has a child in 5А and one in 6Б
    assert await count(db, select(func.count()).select_from(Guardianship)) == 75
    online = await count(
        db, select(func.count()).select_from(LessonOccurrence).where(LessonOccurrence.online)
    )
    total = await count(db, select(func.count()).select_from(LessonOccurrence))
    assert total == 3 * 5 * 7
    assert 0 < online < total


async def test_seeding_twice_changes_nothing(db: Database) -> None:
    before = await count(db, select(func.count()).select_from(Person))
    assert not await seed_demo_school(db, today=TODAY)
    assert await count(db, select(func.count()).select_from(Person)) == before


async def test_migrating_again_is_harmless(db: Database) -> None:
    await db.migrate()
    assert await count(db, select(func.count()).select_from(SchoolClass)) == 3


async def test_lesson_times_are_stored_in_utc_from_the_school_zone(db: Database) -> None:
    student = await login(db, "student")
    lessons = await timetable.lessons_for(db, student, TODAY, TODAY)
    first = lessons[0]
    assert first.starts_at.tzinfo is not None
    assert first.starts_at == dt.datetime(2026, 9, 1, 5, 30, tzinfo=dt.UTC)  # 08:30 Moscow
    assert first.ends_at - first.starts_at == dt.timedelta(minutes=45)


async def test_wrong_credentials_are_refused_alike(db: Database) -> None:
    with pytest.raises(Unauthenticated) as wrong_password:
        await people.authenticate(db, "teacher", "not the password")
    with pytest.raises(Unauthenticated) as unknown_user:
        await people.authenticate(db, "nobody", DEMO_PASSWORD)
    assert wrong_password.value.code == unknown_user.value.code == "bad_credentials"
    assert wrong_password.value.message == unknown_user.value.message


async def test_sign_ins_are_audited(db: Database) -> None:
    teacher = await login(db, "teacher")
    with pytest.raises(Unauthenticated):
        await people.authenticate(db, "teacher", "wrong")
    async with db.session() as session:
        actions = (
            (
                await session.execute(
                    select(AuditEntry.action).where(AuditEntry.actor_id == teacher.person_id)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(actions) == ["login", "login_failed"]


async def test_each_role_sees_its_own_timetable(db: Database) -> None:
    week = (TODAY, TODAY + dt.timedelta(days=6))
    teacher = await login(db, "teacher")
    teacher_lessons = await timetable.lessons_for(db, teacher, *week)
    assert teacher_lessons and {lesson.subject for lesson in teacher_lessons} == {"Математика"}

    student = await login(db, "student")
    student_lessons = await timetable.lessons_for(db, student, *week)
    assert len(student_lessons) == 5 * 7
    assert {lesson.school_class.name for lesson in student_lessons} == {"5А"}

    parent = await login(db, "parent")
    parent_lessons = await timetable.lessons_for(db, parent, *week)
    children = {lesson.child.display_name for lesson in parent_lessons if lesson.child}
    assert len(children) == 2
    assert {lesson.school_class.name for lesson in parent_lessons} == {"5А", "6Б"}
    assert len(parent_lessons) == 2 * 5 * 7

    admin = await login(db, "admin")
    assert len(await timetable.lessons_for(db, admin, *week)) == 3 * 5 * 7

    panel = await login(db, "panel")
    with pytest.raises(Forbidden):
        await timetable.lessons_for(db, panel, *week)


async def test_a_parent_sees_only_their_own_children(db: Database) -> None:
    other_parent = await login(db, "parent-7v-05")
    lessons = await timetable.lessons_for(db, other_parent, TODAY, TODAY)
    profile = await people.profile(db, other_parent)
    assert [child.school_class.name for child in profile.children if child.school_class] == ["7В"]
    assert {lesson.child.id for lesson in lessons if lesson.child} == {profile.children[0].id}
    async with db.session() as session:
        reads = (
            (
                await session.execute(
                    select(AuditEntry.subject_id).where(
                        AuditEntry.actor_id == other_parent.person_id,
                        AuditEntry.action == "timetable_read",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert reads == [profile.children[0].id]


async def test_timetable_ranges_are_bounded(db: Database) -> None:
    teacher = await login(db, "teacher")
    with pytest.raises(InvalidInput):
        await timetable.lessons_for(db, teacher, TODAY, TODAY - dt.timedelta(days=1))
    with pytest.raises(InvalidInput):
        await timetable.lessons_for(db, teacher, TODAY, TODAY + dt.timedelta(days=400))


async def test_profile_of_a_student_names_the_class_only(db: Database) -> None:
    profile = await people.profile(db, await login(db, "student"))
    assert profile.role is Role.STUDENT
    assert profile.school_class is not None and profile.school_class.name == "5А"
    assert profile.children == []


async def test_warming_up_shows_every_pooled_connection_every_table(db: Database) -> None:
    planned: defaultdict[int, set[str]] = defaultdict(set)

    def record(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.endswith("WHERE false"):  # not the dialect's own set-up queries
            table = statement.split("FROM", 1)[1].split()[0]
            planned[id(connection.connection.dbapi_connection)].add(table)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        opened = await db.warm_up()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    if db.is_sqlite:
        assert opened == 0
        assert not planned
        return
    # Every pooled connection has had every table in a statement (its catalog entries loaded).
    tables = {table.name for table in Base.metadata.sorted_tables}
    assert len(planned) == opened
    assert all(names == tables for names in planned.values())
    pool = db.engine.pool
    assert opened == pool.size() == 20  # type: ignore[attr-defined]
    assert pool.checkedin() == opened  # type: ignore[attr-defined]
    async with db.autocommit() as connection:
        sessions = await connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        )
    assert sessions == opened
