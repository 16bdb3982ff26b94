"""The journal, diary and library services at the domain level, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from classroom.attendance_marks import Mark
from classroom.diary import calendar, trusted, week
from classroom.diary.trusted import NewTrusted
from classroom.errors import Conflict, Forbidden, NotFound, Unauthenticated
from classroom.events import DomainEvent, EventDispatcher, GradeChanged, HomeworkChanged
from classroom.join_links import JoinLinks
from classroom.journal import grades, grid, history, homework, marks
from classroom.journal.grades import GradeCorrection, NewGrade
from classroom.journal.homework import HomeworkBody
from classroom.library import attachments, materials
from classroom.library.materials import NewMaterial
from classroom.people import authenticate, children_of
from classroom.roles import Principal
from classroom.rooms import RoomTimes
from classroom.storage.database import Database
from classroom.storage.models import Enrolment, LessonOccurrence, Person
from tests.conftest import DEMO_DAY, TEST_SECRET, demo_principal

NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


async def first_lesson(
    db: Database, teacher: Principal, class_name: str = "5А"
) -> LessonOccurrence:
    from classroom.storage.models import SchoolClass

    async with db.session() as session:
        lesson = await session.scalar(
            select(LessonOccurrence)
            .join(SchoolClass, SchoolClass.id == LessonOccurrence.class_id)
            .where(
                LessonOccurrence.teacher_id == teacher.person_id,
                SchoolClass.name == class_name,
            )
            .order_by(LessonOccurrence.starts_at)
            .limit(1)
        )
    assert lesson is not None
    return lesson


async def person_id(db: Database, username: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(Person.id).where(Person.username == username))
    assert found is not None
    return found


class Recorder:
    def __init__(self, dispatcher: EventDispatcher) -> None:
        self.seen: list[DomainEvent] = []

        async def keep(event: DomainEvent) -> None:
            self.seen.append(event)

        dispatcher.subscribe(GradeChanged, keep)
        dispatcher.subscribe(HomeworkChanged, keep)


async def test_grades_are_corrected_by_versions_never_overwritten(db: Database) -> None:
    events = EventDispatcher()
    recorder = Recorder(events)
    teacher = await demo_principal(db, "teacher")
    lesson = await first_lesson(db, teacher)
    student = await person_id(db, "student")
    made = await grades.add_grade(
        db, events, teacher, lesson.id, NewGrade(student, 4, 2, "Хорошо"), now=NOW
    )
    assert (made.value, made.weight, made.version) == (4, 2, 1)
    fixed = await grades.correct_grade(
        db, events, teacher, made.id, GradeCorrection(1, 5, 2, "Отлично", reason="typo"), now=NOW
    )
    assert fixed.version == 2
    with pytest.raises(Conflict):
        await grades.correct_grade(db, events, teacher, made.id, GradeCorrection(1, 3), now=NOW)
    kept = await grades.versions_of(db, teacher, made.id)
    assert [(v.version, v.value, v.comment) for v in kept.versions] == [
        (1, 4, "Хорошо"),
        (2, 5, "Отлично"),
    ]
    assert [type(e) for e in recorder.seen] == [GradeChanged, GradeChanged]
    changes = await history.changes_of(db, [lesson.id], limit=1, offset=0)
    assert changes.changes[0].what == "grade_corrected" and changes.next_offset == 1

    other_teacher = await demo_principal(db, "teacher2")
    with pytest.raises(Forbidden):
        await grades.add_grade(db, events, other_teacher, lesson.id, NewGrade(student, 2), now=NOW)
    outsider = await person_id(db, "student-6b-02")
    with pytest.raises(NotFound):
        await grades.add_grade(db, events, teacher, lesson.id, NewGrade(outsider, 2), now=NOW)
    for role in ("student", "parent", "panel"):
        with pytest.raises(Forbidden):
            await grades.add_grade(
                db, events, await demo_principal(db, role), lesson.id, NewGrade(student, 5), now=NOW
            )


async def test_the_diary_shows_journal_and_library_to_its_readers_only(db: Database) -> None:
    events = EventDispatcher()
    teacher = await demo_principal(db, "teacher")
    lesson = await first_lesson(db, teacher)
    student = await demo_principal(db, "student")
    material = await materials.create(
        db,
        teacher,
        NewMaterial("text", "Дроби: памятка", "Математика", 5, "дроби", text="Числитель ёлка"),
        now=NOW,
    )
    body = HomeworkBody("№ 12, 14", lesson.date + dt.timedelta(days=2), [material.id])
    await attachments.check_attachable(db, teacher, [material.id])
    await homework.set_homework(db, events, teacher, lesson.id, body, now=NOW)
    await attachments.set_attached(db, teacher, lesson.id, "homework", [material.id], now=NOW)
    await grades.add_grade(
        db, events, teacher, lesson.id, NewGrade(student.person_id, 5, 1, "Молодец"), now=NOW
    )
    await marks.set_by_teacher(
        db, events, teacher, lesson.id, student.person_id, Mark.LATE, now=NOW
    )

    links = JoinLinks(TEST_SECRET)
    times = RoomTimes()

    async def week_of(who: Principal, student_id: int | None) -> week.DiaryWeek:
        return await week.week(
            db,
            links,
            who,
            student_id=student_id,
            date_from=DEMO_DAY,
            today=DEMO_DAY,
            now=NOW,
            times=times,
        )

    own = await week_of(student, None)
    seen = next(item for item in own.lessons if item.id == lesson.id)
    assert seen.grades[0].comment == "Молодец" and seen.mark == Mark.LATE
    assert seen.homework is not None and seen.homework.materials[0].id == material.id
    parent = await demo_principal(db, "parent")
    children = await children_of(db, parent.person_id)
    assert len(children) == 2
    by_parent = await week_of(parent, student.person_id)
    assert next(i for i in by_parent.lessons if i.id == lesson.id).grades[0].value == 5
    other_child = await week_of(parent, children[1].id)
    assert all(not item.grades for item in other_child.lessons)
    with pytest.raises(NotFound):
        await week_of(await demo_principal(db, "parent-5a-02"), student.person_id)
    with pytest.raises(NotFound):
        await week_of(await demo_principal(db, "student-5a-02"), student.person_id)
    with pytest.raises(Forbidden):
        await week_of(teacher, student.person_id)

    # The material is found by any word, ё or е alike; a classmate may open it (attached).
    found = await materials.search(
        db,
        teacher,
        query="ЕЛКА дроби",
        subject=None,
        grade_level=None,
        state=None,
        mine=False,
        limit=10,
        offset=0,
    )
    assert [m.id for m in found.materials] == [material.id]
    classmate = await demo_principal(db, "student-5a-02")
    assert (await materials.readable(db, classmate, material.id)).id == material.id
    with pytest.raises(NotFound):
        await materials.readable(db, await demo_principal(db, "student-6b-02"), material.id)
    panel = await demo_principal(db, "panel")
    with pytest.raises(NotFound):
        await attachments.lesson_materials(db, panel, lesson.id)


async def test_a_trusted_person_reads_until_revoked(db: Database) -> None:
    parent = await demo_principal(db, "parent")
    children = await children_of(db, parent.person_id)
    made = await trusted.add(
        db,
        parent,
        NewTrusted("grandma", "Бабушка", "a-long-password-1", [children[0].id]),
        now=NOW,
    )
    grandma = await authenticate(db, "grandma", "a-long-password-1")
    readable = await week.readable(db, grandma)
    assert [s.id for s in readable.students] == [children[0].id]
    assert (
        await week.week(
            db,
            JoinLinks(TEST_SECRET),
            grandma,
            student_id=children[0].id,
            date_from=DEMO_DAY,
            today=DEMO_DAY,
            now=NOW,
            times=RoomTimes(),
        )
    ).student.id == children[0].id
    with pytest.raises(NotFound):
        await week.week(
            db,
            JoinLinks(TEST_SECRET),
            grandma,
            student_id=children[1].id,
            date_from=DEMO_DAY,
            today=DEMO_DAY,
            now=NOW,
            times=RoomTimes(),
        )
    with pytest.raises(Forbidden):
        await trusted.add(
            db, grandma, NewTrusted("grandpa", "Дед", "x" * 12, [children[0].id]), now=NOW
        )
    with pytest.raises(NotFound):
        await trusted.revoke(db, await demo_principal(db, "parent-5a-02"), made.id, now=NOW)
    await trusted.revoke(db, parent, made.id, now=NOW)
    assert (await week.readable(db, grandma)).students == []
    with pytest.raises(Unauthenticated):
        await authenticate(db, "grandma", "a-long-password-1")


async def test_a_calendar_feed_is_secret_and_revocable(db: Database) -> None:
    student = await demo_principal(db, "student")
    token = await calendar.make_feed(db, student, now=NOW)
    owner = await calendar.owner_of(db, token)
    assert owner.person_id == student.person_id
    text = await calendar.feed(
        db,
        JoinLinks(TEST_SECRET),
        owner,
        today=DEMO_DAY,
        now=NOW,
        times=RoomTimes(),
        base_url="https://school.example",
    )
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "BEGIN:VEVENT" in text
    assert "URL:https://school.example/" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    await calendar.revoke_feed(db, student)
    with pytest.raises(NotFound):
        await calendar.owner_of(db, token)


async def test_the_grid_is_the_teachers_of_that_class_and_subject(db: Database) -> None:
    teacher = await demo_principal(db, "teacher")
    journals = await grid.journals_of(db, teacher)
    assert journals.journals
    first = journals.journals[0]
    made = await grid.grid(
        db,
        teacher,
        class_id=first.school_class.id,
        subject_id=first.subject.id,
        date_from=DEMO_DAY,
        date_to=DEMO_DAY + dt.timedelta(days=6),
    )
    assert len(made.students) == 25 and made.lessons
    with pytest.raises(Forbidden):
        await grid.grid(
            db,
            await demo_principal(db, "teacher2"),
            class_id=first.school_class.id,
            subject_id=first.subject.id,
            date_from=DEMO_DAY,
            date_to=DEMO_DAY,
        )
    async with db.session() as session:
        assert await session.scalar(select(Enrolment.class_id).limit(1)) is not None
