"""Lesson rooms, join links and chat rules, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest

from classroom import chat, join_links, rooms
from classroom.demo import add_lesson
from classroom.errors import DomainError, Forbidden, NotFound
from classroom.join_links import JoinLinks
from classroom.roles import Principal, Role
from classroom.rooms import Room, RoomState, RoomTimes
from classroom.storage.database import Database
from tests.conftest import DEMO_DAY, TEST_SECRET
from tests.conftest import demo_principal as login

NOW = dt.datetime.combine(DEMO_DAY, dt.time(8, 35), dt.UTC)
TIMES = RoomTimes()
LINKS = JoinLinks(TEST_SECRET)


async def a_room(db: Database, *, minutes_from_now: int = -5, online: bool = True) -> Room:
    lesson = await add_lesson(
        db, starts_at=NOW + dt.timedelta(minutes=minutes_from_now), online=online
    )
    return await rooms.load_room(db, lesson, 1)


def link_for(room: Room, person: Principal, generation: int = 0) -> str:
    return LINKS.issue(room.lesson.id, person.person_id, generation, room.closes_at(TIMES))


async def refusal(
    db: Database, who: Principal, room: Room, link: str | None, now: dt.datetime = NOW
) -> str:
    with pytest.raises(DomainError) as caught:
        await rooms.check_entry(db, LINKS, who, room, link, now=now, times=TIMES)
    return caught.value.code


async def test_room_states_follow_the_clock_and_the_teacher(db: Database) -> None:
    room = await a_room(db, minutes_from_now=30)
    assert room.state(NOW, TIMES) is RoomState.SCHEDULED
    assert room.state(NOW + dt.timedelta(minutes=26), TIMES) is RoomState.OPEN  # 5 min before
    teacher = await login(db, "teacher")
    room = await rooms.open_room(db, teacher, room, now=NOW, times=TIMES)
    assert room.state(NOW, TIMES) is RoomState.OPEN
    assert await rooms.teacher_arrived(db, room, now=NOW)
    room = await rooms.load_room(db, room.lesson.id, 1)
    assert room.state(NOW, TIMES) is RoomState.LIVE
    assert not await rooms.teacher_arrived(db, room, now=NOW), "live only once"
    after_end = room.lesson.ends_at + TIMES.overrun
    assert room.state(after_end, TIMES) is RoomState.ENDED
    await rooms.end_room(db, teacher, room, now=NOW)
    room = await rooms.load_room(db, room.lesson.id, 1)
    assert room.state(NOW, TIMES) is RoomState.ENDED


async def test_a_student_enters_with_their_own_link_only(db: Database) -> None:
    room = await a_room(db)
    student = await login(db, "student")
    classmate = await login(db, "student-5a-02")
    await rooms.check_entry(db, LINKS, student, room, link_for(room, student), now=NOW, times=TIMES)
    await rooms.check_entry(db, LINKS, await login(db, "teacher"), room, None, now=NOW, times=TIMES)

    other_room = await a_room(db, minutes_from_now=-10)
    assert await refusal(db, student, room, None) == "link_required"
    assert await refusal(db, student, room, "not-a-link") == "link_invalid"
    assert await refusal(db, student, room, link_for(other_room, student)) == "link_wrong_lesson"
    assert await refusal(db, classmate, room, link_for(room, student)) == "link_not_yours"
    forged = JoinLinks("another-secret-key-of-32-bytes-or-more!!").issue(
        room.lesson.id, student.person_id, 0, room.closes_at(TIMES)
    )
    assert await refusal(db, student, room, forged) == "link_invalid"
    expired = LINKS.issue(room.lesson.id, student.person_id, 0, NOW - dt.timedelta(seconds=1))
    assert await refusal(db, student, room, expired) == "link_expired"


async def test_strangers_are_refused_whatever_link_they_hold(db: Database) -> None:
    room = await a_room(db)
    student = await login(db, "student")
    other_class = await login(db, "student-7v-03")
    parent = await login(db, "parent")
    stolen = link_for(room, student)
    assert await refusal(db, other_class, room, stolen) == "not_a_participant"
    assert await refusal(db, other_class, room, link_for(room, other_class)) == (
        "not_a_participant"
    )
    assert await refusal(db, parent, room, stolen) == "not_a_participant"
    assert await refusal(db, await login(db, "teacher2"), room, None) == "not_a_participant"
    with pytest.raises(NotFound):
        await rooms.load_room(db, room.lesson.id, school_id=999)


async def test_revoked_links_and_removed_students_stay_out(db: Database) -> None:
    room = await a_room(db)
    teacher = await login(db, "teacher")
    student = await login(db, "student")
    old_link = link_for(room, student)
    generation = await rooms.revoke_link(db, teacher, room, student.person_id)
    assert generation == 1
    assert await refusal(db, student, room, old_link) == "link_revoked"
    await rooms.check_entry(
        db, LINKS, student, room, link_for(room, student, generation), now=NOW, times=TIMES
    )
    with pytest.raises(Forbidden):
        await rooms.revoke_link(db, student, room, student.person_id)

    await rooms.remove_participant(db, teacher, room, student.person_id, now=NOW)
    assert await refusal(db, student, room, link_for(room, student, generation)) == "removed"


async def test_the_room_must_be_open_unlocked_and_not_over(db: Database) -> None:
    teacher = await login(db, "teacher")
    student = await login(db, "student")
    later = await a_room(db, minutes_from_now=60)
    assert await refusal(db, student, later, link_for(later, student)) == "room_not_open"
    in_class = await a_room(db, minutes_from_now=-5, online=False)
    assert await refusal(db, student, in_class, link_for(in_class, student)) == "room_not_open"

    room = await a_room(db)
    room = await rooms.set_switches(db, teacher, room, rooms.SwitchChange(locked=True))
    assert await refusal(db, student, room, link_for(room, student)) == "room_locked"
    ended_at = room.closes_at(TIMES)
    assert await refusal(db, student, room, link_for(room, student), now=ended_at) == ("room_ended")
    assert await refusal(db, teacher, room, None, now=ended_at) == "room_ended"


async def test_links_in_timetables_belong_to_their_person(db: Database) -> None:
    from classroom import timetable

    room = await a_room(db)
    student = await login(db, "student")
    parent = await login(db, "parent")
    teacher = await login(db, "teacher")
    day = NOW.date()
    for who in (student, parent):
        lessons = await timetable.lessons_for(db, who, day, day)
        lessons = await timetable.with_join_links(db, LINKS, who, lessons, now=NOW, times=TIMES)
        (mine,) = [lesson for lesson in lessons if lesson.id == room.lesson.id]
        assert mine.join_url is not None
        token = mine.join_url.split("link=", 1)[1]
        claims = LINKS.read(token, now=NOW)
        assert claims.lesson_id == room.lesson.id
        assert claims.person_id == student.person_id, "a parent's timetable has the child's link"
        assert all(entry.join_url is None for entry in lessons if not entry.online)
    lessons = await timetable.lessons_for(db, teacher, day, day)
    lessons = await timetable.with_join_links(db, LINKS, teacher, lessons, now=NOW, times=TIMES)
    (mine,) = [lesson for lesson in lessons if lesson.id == room.lesson.id]
    assert mine.join_url == f"/lesson/{room.lesson.id}"
    far_ahead = NOW - dt.timedelta(days=3)
    lessons = await timetable.with_join_links(
        db,
        LINKS,
        student,
        await timetable.lessons_for(db, student, day, day),
        now=far_ahead,
        times=TIMES,
    )
    assert all(lesson.join_url is None for lesson in lessons), "links show 48 h ahead only"
    assert join_links.join_url(7, "abc") == "/lesson/7?link=abc"


async def test_chat_rules(db: Database) -> None:
    room = await a_room(db)
    teacher = await login(db, "teacher")
    student = await login(db, "student")
    classmate = await login(db, "student-5a-02")
    published: list[chat.MessageView] = []

    async def publish(view: chat.MessageView) -> tuple[int, bool]:
        """As the bus's ``publish_once``: once per author and client id."""
        for offset, earlier in enumerate(published, start=1):
            if view.client_id is not None and (earlier.author, earlier.client_id) == (
                view.author,
                view.client_id,
            ):
                return offset, False
        published.append(view)
        return len(published), True

    async def post(who: Principal, text: str, **kwargs: object) -> chat.MessageView:
        state = kwargs.pop("state", RoomState.LIVE)
        view, _offset = await chat.post(
            db,
            room,
            await rooms.author_of(db, who.person_id),
            who,
            text,
            state=state,
            to_id=kwargs.get("to_id"),
            client_id=kwargs.get("client_id"),
            now=NOW,
            publish=publish,
        )
        return view

    async def refused(who: Principal, text: str, **kwargs: object) -> str:
        with pytest.raises(DomainError) as caught:
            await post(who, text, **kwargs)
        return caught.value.code

    assert await refused(student, "hi", state=RoomState.OPEN) == "room_not_live"
    assert await refused(student, "   ") == "empty_message"
    first = await post(student, "  Здравствуйте!  ", client_id="c-1")
    assert first.text == "Здравствуйте!"
    again = await post(student, "Здравствуйте!", client_id="c-1")
    assert again.id == first.id and len(published) == 1, "a resend is not posted twice"
    private = await post(teacher, "Зайди после урока", to_id=student.person_id)
    assert private.to is not None and private.to.id == student.person_id
    assert await refused(student, "psst", to_id=classmate.person_id) == ("private_to_teacher_only")
    room_locked = await rooms.set_switches(db, teacher, room, rooms.SwitchChange(chat_locked=True))
    room = room_locked
    assert await refused(student, "hello?") == "chat_locked"
    await post(teacher, "Тишина, пожалуйста")

    history = {
        who: [m.text for m in await chat.history(db, room, p)]
        for who, p in (("student", student), ("classmate", classmate), ("teacher", teacher))
    }
    assert history["student"] == ["Здравствуйте!", "Зайди после урока", "Тишина, пожалуйста"]
    assert history["classmate"] == ["Здравствуйте!", "Тишина, пожалуйста"]
    assert history["teacher"] == history["student"]

    with pytest.raises(Forbidden):
        await chat.delete(db, room, student, first.id, NOW)
    await chat.delete(db, room, teacher, first.id, NOW)
    assert [m.text for m in await chat.history(db, room, classmate)] == ["Тишина, пожалуйста"]
    assert Role.STUDENT in {m.author.role for m in published}
