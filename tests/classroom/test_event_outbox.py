"""The event outbox: publishing only stores the event; a relay runs its reactions later, on
one node, and an event waiting when a node stops is run after the restart. A journal change
and its event are one transaction: both are kept, or neither."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from classroom.events import DomainEvent, GradeChanged, HomeworkChanged
from classroom.journal import grades, homework
from classroom.journal.grades import NewGrade
from classroom.journal.homework import HomeworkBody
from classroom.journal.tables import JournalGrade, JournalHomework
from classroom.outbox import OutboxEvents, OutboxRelay, decode
from classroom.storage.database import Database
from classroom.storage.models import EventOutbox
from tests.conftest import demo_principal

NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


async def waiting(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(EventOutbox)) or 0)


def node(db: Database, name: str, seen: list[tuple[str, DomainEvent]]) -> OutboxEvents:
    events = OutboxEvents(db, lambda: None, lambda: NOW)

    async def keep(event: DomainEvent) -> None:
        await asyncio.sleep(0.01)  # let another node try to take it meanwhile
        seen.append((name, event))

    events.subscribe(GradeChanged, keep)
    events.subscribe(HomeworkChanged, keep)
    return events


async def test_events_wait_in_the_outbox_and_run_once_across_nodes(db: Database) -> None:
    seen: list[tuple[str, DomainEvent]] = []
    woken: list[bool] = []
    first = OutboxEvents(db, lambda: woken.append(True), lambda: NOW)
    grade = GradeChanged(1, 1, 1, 1, 5, 1)
    homework = HomeworkChanged(1, 1, 1)
    await first.publish(grade, homework)
    assert woken == [True]
    assert seen == [], "publishing only stores the event"
    assert await waiting(db) == 2

    # The node stops before it ran them; after a restart two nodes share the outbox.
    after_restart = node(db, "b", seen)
    other = node(db, "c", seen)
    relays = [OutboxRelay(db, "b", after_restart), OutboxRelay(db, "c", other)]
    handled = await asyncio.gather(*(relay.run_once(NOW) for relay in relays))
    assert sum(handled) == 2
    assert sorted((type(e).__name__ for _, e in seen)) == ["GradeChanged", "HomeworkChanged"]
    assert [e for _, e in seen if isinstance(e, GradeChanged)] == [grade]
    assert await waiting(db) == 0
    assert [await relay.run_once(NOW) for relay in relays] == [0, 0]


async def test_a_lease_of_a_dead_node_expires_and_another_node_runs_the_event(
    db: Database,
) -> None:
    seen: list[tuple[str, DomainEvent]] = []
    events = node(db, "a", seen)
    await events.publish(GradeChanged(2, 1, 1, 1, 4, 1))
    async with db.session() as session:
        row = (await session.scalars(select(EventOutbox))).one()
        row.lease_owner, row.lease_until = "dead-node", NOW + dt.timedelta(seconds=30)
        await session.commit()
    relay = OutboxRelay(db, "b", node(db, "b", seen))
    assert await relay.run_once(NOW) == 0, "leased by another node"
    assert await relay.run_once(NOW + dt.timedelta(seconds=31)) == 1
    assert [name for name, _ in seen] == ["b"]


class CrashBeforeCommit(OutboxEvents):
    """The process dies after the change and its event are written, before the commit."""

    def stage(self, session: AsyncSession, *events: DomainEvent) -> None:
        super().stage(session, *events)
        raise RuntimeError("killed before the commit")


async def grades_of(db: Database, lesson_id: int) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(JournalGrade)
            .where(JournalGrade.lesson_id == lesson_id)
        )
        return int(found or 0)


async def test_a_change_and_its_event_commit_together_or_not_at_all(db: Database) -> None:
    from tests.classroom.test_journal_services import first_lesson, person_id

    teacher = await demo_principal(db, "teacher")
    lesson = await first_lesson(db, teacher)
    student = await person_id(db, "student")
    woken: list[bool] = []
    events = OutboxEvents(db, lambda: woken.append(True), lambda: NOW)

    made = await grades.add_grade(db, events, teacher, lesson.id, NewGrade(student, 4), now=NOW)
    assert await grades_of(db, lesson.id) == 1
    async with db.session() as session:
        stored = [decode(row) for row in (await session.scalars(select(EventOutbox.payload)))]
    assert stored == [GradeChanged(made.id, lesson.id, student, 1, 4, teacher.person_id)]
    assert woken == [True], "woken once committed"

    crashing = CrashBeforeCommit(db, lambda: woken.append(True), lambda: NOW)
    with pytest.raises(RuntimeError):
        await grades.add_grade(db, crashing, teacher, lesson.id, NewGrade(student, 2), now=NOW)
    with pytest.raises(RuntimeError):
        await homework.set_homework(
            db, crashing, teacher, lesson.id, HomeworkBody("Page 12"), now=NOW
        )
    assert await grades_of(db, lesson.id) == 1, "no grade without its event"
    assert await waiting(db) == 1, "no event without its change"
    async with db.session() as session:
        assert await session.get(JournalHomework, lesson.id) is None
    assert woken == [True]
