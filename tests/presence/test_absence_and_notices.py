"""Absence checks, lateness, excuses and the notice outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from sqlalchemy import event, func, select

from classroom import excuses, rooms
from classroom.attendance_marks import Mark, MarkSource, set_mark
from classroom.demo import add_lesson
from classroom.errors import NotFound
from classroom.roles import Principal
from classroom.rooms import Room, RoomTimes
from classroom.storage.database import Database
from classroom.storage.models import AttendanceMark, Notice
from presence import absence, attendance, notices, visits
from presence.notices import NoticeDispatcher, NoticeView
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

STARTS = dt.datetime.combine(DEMO_DAY, dt.time(8, 30), dt.UTC)
TIMES = RoomTimes()
CHECK_AT = STARTS + TIMES.absence_after


async def live_room(db: Database) -> Room:
    lesson = await add_lesson(db, starts_at=STARTS)
    room = await rooms.load_room(db, lesson, 1)
    assert await rooms.teacher_arrived(db, room, now=STARTS - dt.timedelta(minutes=2))
    return await rooms.load_room(db, lesson, 1)


async def visit(db: Database, room: Room, who: Principal, joined: dt.datetime, sid: str) -> None:
    await visits.arrive(
        db,
        lesson_id=room.lesson.id,
        person_id=who.person_id,
        connection_id=sid,
        node_id="node-a",
        now=joined,
    )


async def marks(db: Database, lesson_id: int) -> dict[int, str]:
    async with db.session() as session:
        rows = await session.execute(
            select(AttendanceMark.student_id, AttendanceMark.mark).where(
                AttendanceMark.lesson_id == lesson_id
            )
        )
        return dict(rows.all())  # type: ignore[arg-type]


async def notice_rows(db: Database) -> list[Notice]:
    async with db.session() as session:
        return list((await session.scalars(select(Notice).order_by(Notice.created_at))).all())


async def test_the_check_marks_everyone_once_and_tells_only_absent_students_parents(
    db: Database,
) -> None:
    room = await live_room(db)
    student = await login(db, "student")
    await visit(db, room, student, STARTS + dt.timedelta(minutes=1), "s1")
    excused = await login(db, "student-5a-03")
    await excuses.report_by_parent(
        db,
        await login(db, "parent-5a-03"),
        child_id=excused.person_id,
        date_from=STARTS.date(),
        date_to=STARTS.date(),
        reason="к врачу",
        now=STARTS - dt.timedelta(days=1),
    )
    assert (
        await absence.check_due_lessons(db, now=CHECK_AT - dt.timedelta(seconds=1), times=TIMES)
        == []
    )
    assert len(await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES)) == 1
    assert await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES) == [], "once"

    got = await marks(db, room.lesson.id)
    assert len(got) == 25
    assert got[student.person_id] == Mark.PRESENT
    assert got[excused.person_id] == Mark.EXCUSED
    assert list(got.values()).count(Mark.ABSENT) == 23
    queued = await notice_rows(db)
    assert len(queued) == 23, "one notice per parent of each absent student"
    assert {row.kind for row in queued} == {"absent"}
    assert excused.person_id not in {row.student_id for row in queued}


async def test_a_mark_the_teacher_set_stays_and_tells_nobody(db: Database) -> None:
    room = await live_room(db)
    in_class = await login(db, "student-5a-04")  # sat in the classroom, never online
    async with db.session() as session:
        await set_mark(
            session,
            lesson_id=room.lesson.id,
            student_id=in_class.person_id,
            mark=Mark.PRESENT,
            source=MarkSource.TEACHER,
            now=STARTS,
        )
        await session.commit()
    await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES)
    got = await marks(db, room.lesson.id)
    assert got[in_class.person_id] == Mark.PRESENT
    assert list(got.values()).count(Mark.ABSENT) == 24
    told_about = [row.student_id for row in await notice_rows(db)]
    assert in_class.person_id not in told_about
    assert len(told_about) == 24


async def test_the_check_of_a_class_takes_a_few_statements_not_a_few_per_student(
    db: Database,
) -> None:
    room = await live_room(db)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        assert await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES) == [room.lesson.id]
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert list((await marks(db, room.lesson.id)).values()).count(Mark.ABSENT) == 25
    assert len(await notice_rows(db)) == 25
    # Due lessons, the room, the claim, the class, visits, excuses, marks held, new marks,
    # and four for the notices: one statement or more per student before (156 for 25).
    writes_and_reads = [s for s in statements if not s.upper().startswith(("BEGIN", "PRAGMA"))]
    assert len(writes_and_reads) <= 14, writes_and_reads


async def test_a_late_arrival_becomes_late_and_is_told_once(db: Database) -> None:
    room = await live_room(db)
    await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES)
    latecomer = await login(db, "student-5a-07")
    late_at = CHECK_AT + dt.timedelta(minutes=3)
    await visit(db, room, latecomer, late_at, "s7")
    assert await absence.student_arrived(db, room.lesson, latecomer.person_id, now=late_at)
    assert not await absence.student_arrived(db, room.lesson, latecomer.person_id, now=late_at)
    assert (await marks(db, room.lesson.id))[latecomer.person_id] == Mark.LATE
    kinds = [row.kind for row in await notice_rows(db) if row.student_id == latecomer.person_id]
    assert kinds == ["absent", "late"]
    report = await attendance.attendance_report(
        db, await login(db, "teacher"), room, now=late_at, times=TIMES
    )
    (row,) = [r for r in report.rows if r.student_id == latecomer.person_id]
    assert row.status is attendance.Status.LATE and row.online


async def test_a_clinic_note_turns_an_absence_into_an_excuse(db: Database) -> None:
    room = await live_room(db)
    await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES)
    ill = await login(db, "student-5a-09")
    await excuses.clinic_note(
        db,
        student_id=ill.person_id,
        date_from=STARTS.date(),
        date_to=STARTS.date() + dt.timedelta(days=2),
        reason="ОРВИ",
        now=CHECK_AT,
    )
    assert (await marks(db, room.lesson.id))[ill.person_id] == Mark.EXCUSED
    with pytest.raises(NotFound):
        await excuses.clinic_note(
            db,
            student_id=(await login(db, "teacher")).person_id,
            date_from=STARTS.date(),
            date_to=STARTS.date(),
            reason="x",
            now=CHECK_AT,
        )


async def test_a_parent_excuses_their_own_children_only(db: Database) -> None:
    stranger_child = await login(db, "student-5a-05")
    with pytest.raises(NotFound):
        await excuses.report_by_parent(
            db,
            await login(db, "parent"),
            child_id=stranger_child.person_id,
            date_from=STARTS.date(),
            date_to=STARTS.date(),
            reason="нет",
            now=STARTS,
        )


async def test_a_lesson_the_teacher_never_held_is_not_checked(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=STARTS)
    assert await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES) == []
    assert await marks(db, lesson) == {}


class Receiver:
    """Stands in for an SMS gateway: fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.accepted: list[str] = []

    async def __call__(self, notice_id: str, body: bytes) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("gateway down")
        assert msgspec.json.decode(body)["id"] == notice_id
        self.accepted.append(notice_id)


async def test_notices_are_delivered_once_with_retries_and_leases(db: Database) -> None:
    room = await live_room(db)
    await absence.check_due_lessons(db, now=CHECK_AT, times=TIMES)
    total = len(await notice_rows(db))
    live: list[tuple[int, NoticeView]] = []

    async def publish(person_id: int, notice: NoticeView) -> None:
        live.append((person_id, notice))

    receiver = Receiver(failures=3)
    first = NoticeDispatcher(db, "node-a", publish, receiver)
    second = NoticeDispatcher(db, "node-b", publish, receiver)
    now = CHECK_AT
    for _ in range(12):
        await first.run_once(now)
        await second.run_once(now)
        now += dt.timedelta(seconds=30)
    assert sorted(receiver.accepted) == sorted(row.id for row in await notice_rows(db))
    assert len(receiver.accepted) == total, "each notice exactly once, though the gateway failed"
    assert len(live) == total and len({n.id for _, n in live}) == total
    assert all(not row.pending for row in await notice_rows(db))
    async with db.session() as session:
        retried = await session.scalar(
            select(func.count()).select_from(Notice).where(Notice.webhook_attempts > 0)
        )
    assert retried and retried >= 1

    parent = await login(db, "parent-5a-02")
    mine = await notices.notices_for(db, parent)
    assert [n.kind for n in mine.notices] == ["absent"]
    assert mine.notices[0].lesson.id == room.lesson.id
    assert (await notices.notice_for(db, parent, mine.notices[0].id)).id == mine.notices[0].id
    with pytest.raises(NotFound):
        await notices.notice_for(db, await login(db, "parent-5a-03"), mine.notices[0].id)


def test_backoff_grows_and_is_capped() -> None:
    waits = [notices.backoff(n).total_seconds() for n in (1, 2, 3, 10, 40)]
    assert waits == [1, 2, 4, 512, 600]
