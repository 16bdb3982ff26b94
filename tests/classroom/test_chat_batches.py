"""Chat messages are published as they come and stored together in one statement, on
SQLite and PostgreSQL: each is published once, a resend is still recognised, a message that
could not be delivered is not kept while the others are, and one delivered but not stored
is stored by its resend without being delivered again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest

from classroom import chat, rooms
from classroom.batches import GroupWriter
from classroom.demo import add_lesson
from classroom.roles import Principal
from classroom.rooms import RoomState
from classroom.storage.database import Database
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)


class Channel:
    """Stands for the bus: offsets in publication order, once per client id (as
    ``publish_once``); refuses texts it is told to."""

    def __init__(self, refuse: str = "") -> None:
        self.published: list[str] = []
        self.refuse = refuse
        self._once: dict[tuple[int, str], int] = {}

    async def publish(self, view: chat.MessageView) -> tuple[int, bool]:
        if self.refuse and view.text == self.refuse:
            raise ConnectionError("the bus is down")
        key = None if view.client_id is None else (view.author.id, view.client_id)
        if key is not None and key in self._once:
            return self._once[key], False
        self.published.append(view.id)
        if key is not None:
            self._once[key] = len(self.published)
        return len(self.published), True


class FailingStore(Database):
    """The database, but its next ``failures`` writes fail (the seam this test is about)."""

    def __init__(self, db: Database, failures: int) -> None:
        self.__dict__.update(db.__dict__)
        self.failures = failures

    def direct(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database is gone")
        return super().direct()


async def test_messages_posted_together_are_stored_and_published_once(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    channel = Channel(refuse="lost")
    batches: list[int] = []

    async def store(batch: Sequence[chat.Delivered]) -> list[None]:
        batches.append(len(batch))
        return await chat.store_many(db, batch)

    writer: GroupWriter[chat.Delivered, None] = GroupWriter(store, linger=0.05)
    people = [await login(db, name) for name in ("student", "student-5a-02", "student-5a-03")]

    async def post(who: Principal, text: str, client_id: str) -> chat.Posted:
        return await chat.post(
            db,
            room,
            await rooms.author_of(db, who.person_id),
            who,
            text,
            state=RoomState.LIVE,
            to_id=None,
            client_id=client_id,
            now=NOW,
            publish=channel.publish,
            store=writer.submit,
        )

    first = await asyncio.gather(*(post(p, f"hello {n}", "c-1") for n, p in enumerate(people)))
    assert sorted(offset or 0 for _view, offset in first) == [1, 2, 3]
    assert sum(batches) == 3
    again = await asyncio.gather(
        post(people[0], "hello 0", "c-1"),  # a resend, in a batch with new messages
        post(people[1], "second", "c-2"),
        post(people[2], "lost", "c-3"),  # cannot be delivered
        return_exceptions=True,
    )
    resent, second, lost = again
    assert not isinstance(resent, BaseException) and resent == (first[0][0], None)
    assert not isinstance(second, BaseException) and second[1] == 4
    assert isinstance(lost, ConnectionError)
    assert len(channel.published) == 4, "every message published once"
    assert sum(batches) == 5, "the resend's row is written again (and kept as it was)"

    viewer = await login(db, "teacher")
    history = await chat.history(db, room, viewer)
    texts = [m.text for m in history]
    assert sorted(texts[:3]) == ["hello 0", "hello 1", "hello 2"] and texts[3:] == ["second"]
    channel.refuse = ""
    view, offset = await post(people[2], "lost", "c-3")
    assert offset == 5 and view.text == "lost", "the undelivered one may be sent again"
    await writer.close()


async def test_a_failed_batch_fails_each_of_its_messages(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    student = await login(db, "student")
    author = await rooms.author_of(db, student.person_id)

    async def broken(_batch: object) -> list[BaseException | None]:
        raise RuntimeError("the database is gone")

    writer: GroupWriter[chat.Delivered, None] = GroupWriter(broken)
    with pytest.raises(RuntimeError):
        await chat.post(
            db,
            room,
            author,
            student,
            "hi",
            state=RoomState.LIVE,
            to_id=None,
            client_id=None,
            now=NOW,
            publish=Channel().publish,
            store=writer.submit,
        )


async def test_a_message_delivered_but_not_stored_is_stored_by_its_resend(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    student = await login(db, "student")
    author = await rooms.author_of(db, student.person_id)
    channel = Channel()
    flaky = FailingStore(db, failures=1)

    async def send() -> chat.Posted:
        return await chat.post(
            flaky,
            room,
            author,
            student,
            "hi",
            state=RoomState.LIVE,
            to_id=None,
            client_id="c-9",
            now=NOW,
            publish=channel.publish,
        )

    with pytest.raises(ConnectionError):
        await send()
    assert len(channel.published) == 1, "members got it"
    assert await chat.history(db, room, student) == []
    view, offset = await send()
    assert offset is None, "not delivered again"
    assert view.id == channel.published[0]
    stored = await chat.history(db, room, student)
    assert [(m.id, m.text) for m in stored] == [(view.id, "hi")]
    assert len(channel.published) == 1
