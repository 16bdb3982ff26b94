"""Recordings' rows, access rules, timeline and retention, on both database backends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from classroom import chat, rooms
from classroom.demo import add_lesson
from classroom.errors import Conflict, Forbidden, NotFound
from classroom.rooms import RoomState, load_room
from classroom.storage.database import Database
from classroom.storage.models import AuditEntry
from recordings import store
from tests.conftest import demo_principal


async def test_who_may_see_a_lessons_recordings(db: Database, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=5))
    teacher = await demo_principal(db, "teacher")
    room = await load_room(db, lesson_id, teacher.school_id)
    student = await demo_principal(db, "student")
    with pytest.raises(Forbidden) as refused:
        await store.begin(db, student, room, now=now)
    assert refused.value.code == "not_teacher"
    view, relative = await store.begin(db, teacher, room, now=now)
    assert relative.startswith(f"recordings/lesson-{lesson_id}/")
    with pytest.raises(Conflict):
        await store.begin(db, teacher, room, now=now)
    assert (await store.running(db, lesson_id)) == view

    assert (await store.list_for_lesson(db, student, lesson_id)).recordings == [view]
    classmate = await demo_principal(db, "student-5a-02")
    assert len((await store.list_for_lesson(db, classmate, lesson_id)).recordings) == 1
    parent = await demo_principal(db, "parent")
    assert len((await store.list_for_lesson(db, parent, lesson_id)).recordings) == 1
    async with db.session() as session:
        audited = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor_id).where(
                    AuditEntry.action == "recording_listed"
                )
            )
        ).all()
    assert audited == [("recording_listed", parent.person_id)]
    for username, code in (
        ("student-6b-01", "not_in_class"),
        ("parent-6b-02", "not_your_child"),
        ("teacher2", "not_allowed"),
    ):
        someone = await demo_principal(db, username)
        with pytest.raises(Forbidden) as refused:
            await store.list_for_lesson(db, someone, lesson_id)
        assert refused.value.code == code, username

    with pytest.raises(NotFound) as missing:
        await store.for_viewer(db, student, view.id, tmp_path)
    assert missing.value.code == "recording_file_missing"
    with pytest.raises(Conflict):
        await store.remove(db, teacher, view.id, tmp_path)
    finished = await store.finish(db, view.id, now=now, size=10, duration=4.0)
    assert finished is not None and finished.ended_at is not None
    with pytest.raises(Forbidden):
        await store.remove(db, student, view.id, tmp_path)
    await store.remove(db, teacher, view.id, tmp_path)
    with pytest.raises(NotFound):
        await store.timeline(db, teacher, view.id)


async def test_the_timeline_holds_the_rooms_messages_during_the_recording(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=5))
    teacher = await demo_principal(db, "teacher")
    student = await demo_principal(db, "student")
    room = await load_room(db, lesson_id, teacher.school_id)
    author = await rooms.author_of(db, student.person_id)
    offsets = iter(range(41, 100))

    async def publish(_view: chat.MessageView) -> tuple[int, bool]:
        return next(offsets), True

    async def post(text: str, at: dt.datetime) -> None:
        await chat.post(
            db,
            room,
            author,
            student,
            text,
            state=RoomState.LIVE,
            to_id=None,
            client_id=None,
            now=at,
            publish=publish,
        )

    await post("до записи", now - dt.timedelta(seconds=30))
    view, _ = await store.begin(db, teacher, room, now=now)
    await post("во время", now + dt.timedelta(seconds=12))
    await store.finish(db, view.id, now=now + dt.timedelta(seconds=20), size=1, duration=20)
    await post("после", now + dt.timedelta(seconds=40))
    timeline = await store.timeline(db, student, view.id)
    assert [(item.kind, item.text, item.offset) for item in timeline.items] == [
        ("chat", "во время", 42)
    ]
    assert abs(timeline.items[0].at - 12) < 0.01
