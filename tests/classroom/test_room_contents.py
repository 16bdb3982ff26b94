"""A room entry's contents, read in one statement, are the hands up and the history each
viewer may read, as the separate reads give them, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from classroom import chat, hands, rooms
from classroom.demo import add_lesson
from classroom.roles import Principal
from classroom.room_contents import room_contents
from classroom.rooms import RoomState
from classroom.storage.database import Database
from tests.conftest import DEMO_DAY
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)


async def test_contents_are_the_hands_and_the_history_each_viewer_may_read(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    teacher = await login(db, "teacher")
    first, second, third = [
        await login(db, name) for name in ("student", "student-5a-02", "student-5a-03")
    ]
    offsets = iter(range(1, 100))

    async def publish(_view: chat.MessageView) -> tuple[int, bool]:
        return next(offsets), True

    async def say(who: Principal, text: str, minute: int, to: int | None = None) -> None:
        await chat.post(
            db,
            room,
            await rooms.author_of(db, who.person_id),
            who,
            text,
            state=RoomState.LIVE,
            to_id=to,
            client_id=None,
            now=NOW + dt.timedelta(minutes=minute),
            publish=publish,
        )

    await say(first, "hello everyone", 1)
    await say(teacher, "a word with you", 2, to=second.person_id)
    await say(second, "yes?", 3, to=teacher.person_id)
    await say(third, "and again", 4)
    for minute, who in ((7, third), (6, first)):
        await hands.set_hand(
            db, who, room, raised=True, person_id=None, now=NOW + dt.timedelta(minutes=minute)
        )

    for viewer in (teacher, first, second, third):
        contents = await room_contents(db, room, viewer)
        assert contents.hands == await hands.raised_hands(db, lesson)
        assert contents.messages == await chat.history(db, room, viewer)
        assert not contents.lesson_empty
    expected_hands = [(first.person_id, 6), (third.person_id, 7)]
    assert [(h.person_id, h.at.minute - NOW.minute) for h in contents.hands] == expected_hands
    texts = {
        viewer: [m.text for m in (await room_contents(db, room, viewer)).messages]
        for viewer in (teacher, first, second)
    }
    everything = ["hello everyone", "a word with you", "yes?", "and again"]
    assert texts[teacher] == texts[second] == everything
    assert texts[first] == ["hello everyone", "and again"], "others' private messages unseen"


async def test_an_empty_room_has_no_hands_and_no_messages(db: Database) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    contents = await room_contents(db, room, await login(db, "student"))
    assert contents.hands == [] and contents.messages == []
    assert contents.lesson_empty


async def test_a_room_with_only_others_private_messages_looks_empty_but_is_not(
    db: Database,
) -> None:
    lesson = await add_lesson(db, starts_at=NOW - dt.timedelta(minutes=5))
    room = await rooms.load_room(db, lesson, 1)
    teacher, first, second = [
        await login(db, name) for name in ("teacher", "student", "student-5a-02")
    ]

    async def publish(_view: chat.MessageView) -> tuple[int, bool]:
        return 1, True

    view, _ = await chat.post(
        db,
        room,
        await rooms.author_of(db, teacher.person_id),
        teacher,
        "a word with you",
        state=RoomState.LIVE,
        to_id=second.person_id,
        client_id=None,
        now=NOW,
        publish=publish,
    )
    contents = await room_contents(db, room, first)
    assert contents.hands == [] and contents.messages == []
    assert not contents.lesson_empty
    assert not (await room_contents(db, room, second)).lesson_empty
    await chat.delete(db, room, teacher, view.id, NOW)
    assert (await room_contents(db, room, first)).lesson_empty
    assert (await room_contents(db, room, teacher)).lesson_empty
