"""Recordings on the journal's and the diary's lessons, the offer to those who missed the
lesson, who hears that a recording is ready, and the event that tells them (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from classroom import recording_links as links
from classroom.attendance_marks import Mark
from classroom.demo import add_lesson
from classroom.diary import trusted, week
from classroom.diary.trusted import NewTrusted
from classroom.events import DomainEvent, EventDispatcher, RecordingFinished
from classroom.join_links import JoinLinks
from classroom.journal import grid, marks
from classroom.outbox import decode, encode
from classroom.people import authenticate, children_of
from classroom.roles import Principal
from classroom.rooms import RoomTimes, load_room
from classroom.storage.database import Database
from classroom.storage.models import LessonOccurrence
from recordings import store
from tests.conftest import TEST_SECRET, demo_principal


class Heard(EventDispatcher):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[DomainEvent] = []

    async def committed(self, *events: DomainEvent) -> None:
        self.events.extend(events)


async def recorded(
    db: Database, teacher: Principal, lesson_id: int, at: dt.datetime, *, finish: bool
) -> int:
    room = await load_room(db, lesson_id, teacher.school_id)
    view, _ = await store.begin(db, teacher, room, now=at)
    if finish:
        await store.finish(db, view.id, now=at + dt.timedelta(minutes=30), size=9, duration=1800)
    return view.id


async def test_recordings_are_linked_and_offered_to_those_who_missed_the_lesson(
    db: Database,
) -> None:
    now = dt.datetime.now(dt.UTC)
    teacher = await demo_principal(db, "teacher")
    absent = await demo_principal(db, "student")
    late = await demo_principal(db, "student-5a-02")
    present = await demo_principal(db, "student-5a-03")
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(hours=1))
    old_lesson = await add_lesson(db, starts_at=now - dt.timedelta(days=9))
    events = EventDispatcher()
    for who, mark in ((absent, Mark.ABSENT), (late, Mark.LATE), (present, Mark.PRESENT)):
        await marks.set_by_teacher(db, events, teacher, lesson_id, who.person_id, mark, now=now)
    await marks.set_by_teacher(
        db, events, teacher, old_lesson, absent.person_id, Mark.ABSENT, now=now
    )
    finished = await recorded(db, teacher, lesson_id, now - dt.timedelta(hours=1), finish=True)
    await recorded(db, teacher, lesson_id, now - dt.timedelta(minutes=5), finish=False)
    old = await recorded(db, teacher, old_lesson, now - dt.timedelta(days=9), finish=True)

    found = await links.finished_for(db, [lesson_id, old_lesson])
    assert [link.id for link in found[lesson_id]] == [finished]  # not the one running
    assert found[lesson_id][0].page == f"/recording/{finished}"
    assert [link.id for link in found[old_lesson]] == [old]

    missed = await links.missed_by(db, absent.person_id, now=now)
    assert [(m.lesson_id, m.mark, [r.id for r in m.recordings]) for m in missed] == [
        (lesson_id, "absent", [finished])  # the old lesson's recording is past the week
    ]
    assert missed[0].subject == "Математика"
    assert [m.lesson_id for m in await links.missed_by(db, late.person_id, now=now)] == [lesson_id]
    assert await links.missed_by(db, present.person_id, now=now) == []

    parent = await demo_principal(db, "parent")
    late_parent = await demo_principal(db, "parent-5a-02")
    audience = await links.missed_audience(db, lesson_id)
    assert audience == {
        absent.person_id: [absent.person_id],
        late.person_id: [late.person_id],
        parent.person_id: [absent.person_id],
        late_parent.person_id: [late.person_id],
    }

    # The diary: the student and the parent see the links and the offer, a trusted person
    # (who may read the diary but not watch) sees neither.
    async with db.session() as session:
        day = await session.scalar(
            select(LessonOccurrence.date).where(LessonOccurrence.id == lesson_id)
        )
    assert day is not None

    async def week_of(who: Principal) -> week.DiaryWeek:
        return await week.week(
            db,
            JoinLinks(TEST_SECRET),
            who,
            student_id=absent.person_id,
            date_from=day,
            today=day,
            now=now,
            times=RoomTimes(),
        )

    children = await children_of(db, parent.person_id)
    await trusted.add(
        db,
        parent,
        NewTrusted("grandma", "Бабушка", "a-long-password-1", [children[0].id]),
        now=now,
    )
    grandma = await authenticate(db, "grandma", "a-long-password-1")
    for who, sees in ((absent, True), (parent, True), (grandma, False)):
        seen = await week_of(who)
        lesson = next(item for item in seen.lessons if item.id == lesson_id)
        assert [r.id for r in lesson.recordings] == ([finished] if sees else [])
        assert [m.lesson_id for m in seen.missed] == ([lesson_id] if sees else [])

    # The journal's grid links them on the lesson.
    async with db.session() as session:
        subject_id = await session.scalar(
            select(LessonOccurrence.subject_id).where(LessonOccurrence.id == lesson_id)
        )
        class_id = await session.scalar(
            select(LessonOccurrence.class_id).where(LessonOccurrence.id == lesson_id)
        )
    assert subject_id is not None and class_id is not None
    journal = await grid.grid(
        db, teacher, class_id=class_id, subject_id=subject_id, date_from=day, date_to=day
    )
    column = next(item for item in journal.lessons if item.id == lesson_id)
    assert [r.id for r in column.recordings] == [finished]


async def test_a_finished_recording_is_an_event(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    teacher = await demo_principal(db, "teacher")
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=5))
    room = await load_room(db, lesson_id, teacher.school_id)
    view, _ = await store.begin(db, teacher, room, now=now)
    heard = Heard()
    await store.finish(db, view.id, now=now, size=1, duration=1.0, events=heard)
    assert heard.events == [RecordingFinished(view.id, lesson_id)]
    assert decode(encode(heard.events[0])) == heard.events[0]  # the outbox carries it
