"""The demo school, seeded on first run so that a fresh install has something to show."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select

from classroom.passwords import hash_password
from classroom.roles import Role
from classroom.storage.database import Database
from classroom.storage.models import (
    Enrolment,
    Guardianship,
    LessonOccurrence,
    Person,
    School,
    SchoolClass,
    Setting,
    Subject,
    TimetableEntry,
)
from classroom.timetable import occurrences_from_entries

log = logging.getLogger(__name__)

DEMO_PASSWORD = "urok-demo"
DEMO_TIMEZONE = "Europe/Moscow"
SEEDED_KEY = "demo_seeded"
CLASSES = (("5А", 5), ("6Б", 6), ("7В", 7))
STUDENTS_PER_CLASS = 25
SUBJECTS = ("Математика", "Русский язык", "Литература", "История", "Физика", "Английский язык")
PERIODS = (
    (dt.time(8, 30), dt.time(9, 15)),
    (dt.time(9, 25), dt.time(10, 10)),
    (dt.time(10, 20), dt.time(11, 5)),
    (dt.time(11, 25), dt.time(12, 10)),
    (dt.time(12, 20), dt.time(13, 5)),
)
DAYS = 7
TEACHER_NAMES = (
    "Анна Сергеевна Орлова",
    "Борис Петрович Лебедев",
    "Вера Николаевна Соколова",
    "Григорий Ильич Морозов",
    "Дарья Андреевна Волкова",
    "Евгений Олегович Зайцев",
)
FIRST_NAMES = (
    "Алиса",
    "Артём",
    "Вероника",
    "Глеб",
    "Дарина",
    "Егор",
    "Злата",
    "Иван",
    "Кира",
    "Лев",
    "Мария",
    "Никита",
    "Ольга",
    "Пётр",
    "Рита",
    "Савва",
    "Таисия",
    "Фёдор",
    "Юлия",
    "Ярослав",
)
FAMILY_NAMES = (
    "Белов",
    "Васильев",
    "Громов",
    "Данилов",
    "Ершов",
    "Жуков",
    "Киселёв",
    "Лосев",
    "Макаров",
    "Новиков",
    "Осипов",
    "Павлов",
    "Романов",
    "Смирнов",
    "Тихонов",
    "Устинов",
    "Фролов",
)
FEMININE = {
    "Алиса",
    "Вероника",
    "Дарина",
    "Злата",
    "Кира",
    "Мария",
    "Ольга",
    "Рита",
    "Таисия",
    "Юлия",
}


def _student_name(index: int) -> tuple[str, str]:
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    family = FAMILY_NAMES[(index * 7) % len(FAMILY_NAMES)]
    if first in FEMININE:
        family = family.removesuffix("ь") + "а"
    return first, family


MOTHER_NAMES = ("Ирина", "Елена", "Наталья", "Светлана", "Татьяна", "Ксения", "Анна")
FATHER_NAMES = ("Сергей", "Андрей", "Дмитрий", "Алексей", "Михаил", "Олег")


def _parent_name(index: int) -> str:
    """A parent of the student with the same index: mothers and fathers by turns."""
    family = FAMILY_NAMES[(index * 7) % len(FAMILY_NAMES)]
    if index % 2:
        return f"{MOTHER_NAMES[index % len(MOTHER_NAMES)]} {family}а"
    return f"{FATHER_NAMES[index % len(FATHER_NAMES)]} {family}"


def _class_slug(name: str) -> str:
    return name.lower().translate(str.maketrans("абв", "abv"))


async def seed_demo_school(db: Database, *, today: dt.date | None = None) -> bool:
    """Create the demo school unless it exists; True if it was created now."""
    async with db.session() as session:
        seeded = await session.get(Setting, SEEDED_KEY)
        if seeded is not None:
            return False
        start = today or dt.datetime.now(dt.UTC).astimezone(_zone()).date()
        password_hash = hash_password(DEMO_PASSWORD)  # one hash: every demo account shares it

        school = School(name="Школа №1 (демо)", timezone=DEMO_TIMEZONE)
        session.add(school)
        await session.flush()

        def person(username: str, name: str, role: Role) -> Person:
            made = Person(
                school_id=school.id,
                username=username,
                password_hash=password_hash,
                display_name=name,
                role=role,
                active=True,
            )
            session.add(made)
            return made

        person("admin", "Администратор школы", Role.ADMIN)
        person("panel", "Панель, кабинет 21", Role.PANEL)
        teachers = [
            person("teacher" if i == 0 else f"teacher{i + 1}", name, Role.TEACHER)
            for i, name in enumerate(TEACHER_NAMES)
        ]
        subjects = [Subject(school_id=school.id, name=name) for name in SUBJECTS]
        classes = [SchoolClass(school_id=school.id, name=n, grade=g) for n, g in CLASSES]
        session.add_all([*subjects, *classes])
        await session.flush()

        shared_parent: Person | None = None
        for class_index, school_class in enumerate(classes):
            slug = _class_slug(school_class.name)
            for number in range(1, STUDENTS_PER_CLASS + 1):
                index = class_index * STUDENTS_PER_CLASS + number
                first, family = _student_name(index)
                if class_index == 0 and number == 1:
                    username = "student"
                else:
                    username = f"student-{slug}-{number:02d}"
                student = person(username, f"{first} {family}", Role.STUDENT)
                if number == 1 and class_index < 2:
                    if shared_parent is None:  # one parent with two children in two classes
                        shared_parent = person("parent", _parent_name(index), Role.PARENT)
                    parent = shared_parent
                else:
                    parent = person(f"parent-{slug}-{number:02d}", _parent_name(index), Role.PARENT)
                await session.flush()
                session.add(Enrolment(student_id=student.id, class_id=school_class.id))
                session.add(Guardianship(parent_id=parent.id, child_id=student.id))
        await session.flush()

        entries = []
        last = start + dt.timedelta(days=DAYS - 1)
        for class_index, school_class in enumerate(classes):
            for weekday in range(7):  # the demo school works every day, so "today" has lessons
                for period, (starts, ends) in enumerate(PERIODS):
                    subject_index = (period + class_index + weekday) % len(SUBJECTS)
                    entries.append(
                        TimetableEntry(
                            class_id=school_class.id,
                            subject_id=subjects[subject_index].id,
                            teacher_id=teachers[subject_index].id,
                            weekday=weekday,
                            starts=starts,
                            ends=ends,
                            online=(period + class_index + weekday) % 3 == 0,
                            valid_from=start,
                            valid_until=last,
                        )
                    )
        session.add_all(entries)
        await session.flush()
        session.add_all(occurrences_from_entries(entries, start, last, DEMO_TIMEZONE))
        session.add(Setting(key=SEEDED_KEY, value=start.isoformat()))
        await session.commit()
    log.info("demo school seeded from %s", start.isoformat())
    return True


async def demo_is_seeded(db: Database) -> bool:
    async with db.session() as session:
        return (
            await session.execute(select(Setting.key).where(Setting.key == SEEDED_KEY))
        ).first() is not None


def _zone() -> dt.tzinfo:
    return ZoneInfo(DEMO_TIMEZONE)


async def add_lesson(
    db: Database,
    *,
    starts_at: dt.datetime,
    duration: dt.timedelta = dt.timedelta(minutes=45),
    class_name: str = "5А",
    teacher_username: str = "teacher",
    subject: str = "Математика",
    online: bool = True,
) -> int:
    """Add a lesson outside the weekly timetable (a demo lesson "now", or a test's)."""
    async with db.session() as session:
        school_class = await session.scalar(
            select(SchoolClass).where(SchoolClass.name == class_name)
        )
        teacher = await session.scalar(select(Person).where(Person.username == teacher_username))
        if school_class is None or teacher is None:
            raise LookupError("the demo school has no such class or teacher")
        subject_id = await session.scalar(
            select(Subject.id).where(
                Subject.school_id == school_class.school_id, Subject.name == subject
            )
        )
        if subject_id is None:
            raise LookupError("the demo school has no such subject")
        zone = ZoneInfo(
            await session.scalar(select(School.timezone).where(School.id == school_class.school_id))
            or DEMO_TIMEZONE
        )
        lesson = LessonOccurrence(
            class_id=school_class.id,
            subject_id=subject_id,
            teacher_id=teacher.id,
            date=starts_at.astimezone(zone).date(),
            starts_at=starts_at,
            ends_at=starts_at + duration,
            online=online,
        )
        session.add(lesson)
        await session.commit()
        return lesson.id


async def ensure_lesson_now(db: Database, now: dt.datetime) -> int | None:
    """Give the demo an online lesson of 5А with ``teacher`` going on now, so that a
    newcomer can open one whatever the hour; return its id if one was added."""
    if not await demo_is_seeded(db):
        return None
    async with db.session() as session:
        school_class_id = await session.scalar(
            select(SchoolClass.id).where(SchoolClass.name == CLASSES[0][0])
        )
        teacher_id = await session.scalar(select(Person.id).where(Person.username == "teacher"))
        going_on = await session.scalar(
            select(LessonOccurrence.id).where(
                LessonOccurrence.class_id == school_class_id,
                LessonOccurrence.teacher_id == teacher_id,
                LessonOccurrence.online.is_(True),
                LessonOccurrence.starts_at <= now + dt.timedelta(minutes=5),
                LessonOccurrence.ends_at >= now + dt.timedelta(minutes=20),
            )
        )
    if going_on is not None:
        return None
    return await add_lesson(db, starts_at=now.replace(second=0, microsecond=0))
