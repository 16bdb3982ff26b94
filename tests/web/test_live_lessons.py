"""Live lessons over real sockets: the lobby, the teacher's controls, private messages,
hands, live attendance, refusals of links, and the parents' notices."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from classroom.join_links import JoinLinks
from classroom.roles import Principal
from classroom.room_contents import RoomContents
from classroom.rooms import Room
from classroom.storage.database import Database
from classroom.storage.models import Person
from tests.clients import (
    LiveClient,
    Seat,
    enter,
    get_json,
    lesson_now,
    login,
    post_json,
    seat,
    seated_client,
)
from tests.conftest import REDIS_URL, TEST_SECRET, LiveServer, ServerFactory
from web import room_events
from web.services import SERVICES_KEY

INTEGRATION_KEY = "clinic-integration-key-0123456789"
QUICK = {"sweep_interval": 0.2, "login_burst": 1000}  # many people sign in from one address


class Lesson:
    """A lesson going on now on a server, and the people in it."""

    def __init__(self, server: LiveServer, lesson_id: int, clients: list[LiveClient]) -> None:
        self.server = server
        self.id = lesson_id
        self.clients = clients

    async def person(self, username: str) -> tuple[LiveClient, Seat]:
        return await seated_client(self.server.url, username, self.id, self.clients)

    async def entered(self, username: str) -> tuple[LiveClient, Any]:
        client, place = await self.person(username)
        reply = await enter(client, place)
        assert reply["ok"], reply
        return client, reply["data"]


async def a_lesson(server: LiveServer, clients: list[LiveClient]) -> Lesson:
    return Lesson(server, await lesson_now(server.app[SERVICES_KEY].db), clients)


async def refused(client: LiveClient, event: str, payload: dict[str, Any]) -> str:
    reply = await client.call(event, payload)
    assert reply["ok"] is False, reply
    return str(reply["error"]["code"])


async def test_students_wait_in_the_lobby_until_the_teacher_comes(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(**QUICK), clients)
    student, joined = await lesson.entered("student")
    assert joined["room"]["status"]["state"] == "open"
    assert joined["room"]["teacher"] is False
    code = await refused(student, "chat.send", {"lesson_id": lesson.id, "text": "есть кто?"})
    assert code == "room_not_live"
    teacher, joined = await lesson.entered("teacher")
    assert joined["room"]["teacher"] is True
    (state,) = await student.wait_for("room.state")
    assert state["data"]["state"] == "live"
    assert (await student.call("chat.send", {"lesson_id": lesson.id, "text": "Здравствуйте"}))["ok"]
    await teacher.wait_for("chat.message")


async def test_the_teacher_locks_mutes_removes_and_ends(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(**QUICK), clients)
    teacher, _ = await lesson.entered("teacher")
    student, _ = await lesson.entered("student")
    classmate, _ = await lesson.entered("student-5a-02")
    outsider_try, outsider_seat = await lesson.person("student-5a-03")

    assert await refused(student, "room.control", {"lesson_id": lesson.id, "action": "lock"}) == (
        "not_the_teacher"
    )
    for action in ("lock", "lock_chat", "mute_all"):
        reply = await teacher.call("room.control", {"lesson_id": lesson.id, "action": action})
        assert reply["ok"], reply
    states = await student.wait_for("room.state", count=3)
    assert states[-1]["data"]["switches"] == {
        "locked": True,
        "chat_locked": True,
        "muted_all": True,
    }
    assert (await enter(outsider_try, outsider_seat))["error"]["code"] == "room_locked"
    assert await refused(student, "chat.send", {"lesson_id": lesson.id, "text": "а?"}) == (
        "chat_locked"
    )
    assert (await teacher.call("chat.send", {"lesson_id": lesson.id, "text": "Тихо"}))["ok"]

    me = await get_json(
        lesson.server.url, "/api/me", (await seat(lesson.server.url, "student", lesson.id)).token
    )
    reply = await teacher.call("room.remove", {"lesson_id": lesson.id, "person_id": me["id"]})
    assert reply["ok"], reply
    (evicted,) = await student.wait_for("channel.evict")
    assert evicted["data"]["person_id"] == me["id"]
    assert await refused(student, "chat.send", {"lesson_id": lesson.id, "text": "x"}) == (
        "not_in_room"
    )
    _, student_seat = await lesson.person("student")
    assert (await enter(student, student_seat))["error"]["code"] == "removed"

    assert (await teacher.call("room.control", {"lesson_id": lesson.id, "action": "end"}))["ok"]
    ended = await classmate.wait_for("room.state", count=4)
    assert ended[-1]["data"]["state"] == "ended"
    assert await refused(teacher, "chat.send", {"lesson_id": lesson.id, "text": "x"}) == (
        "room_ended"
    )
    _, classmate_seat = await lesson.person("student-5a-02")
    assert (await enter(classmate, classmate_seat))["error"]["code"] == "room_ended"


async def test_private_messages_reach_only_the_two_people(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(**QUICK), clients)
    teacher, joined = await lesson.entered("teacher")
    teacher_id = joined["room"]["me"]["id"]
    student, joined = await lesson.entered("student")
    student_id = joined["room"]["me"]["id"]
    classmate, _ = await lesson.entered("student-5a-02")
    for client in (teacher, student, classmate):
        assert (await client.call("notices.join", {}))["ok"]
    sent = await teacher.call(
        "chat.send", {"lesson_id": lesson.id, "text": "Останься после урока", "to": student_id}
    )
    assert sent["ok"], sent
    (private,) = await student.wait_for("chat.message")
    assert private["channel"] == f"user:{student_id}"
    assert private["data"]["to"]["id"] == student_id
    reply = await student.call(
        "chat.send", {"lesson_id": lesson.id, "text": "Хорошо", "to": teacher_id}
    )
    assert reply["ok"], reply
    await teacher.wait_for("chat.message", count=2)
    code = await refused(
        classmate,
        "chat.send",
        {"lesson_id": lesson.id, "text": "psst", "to": student_id},
    )
    assert code == "private_to_teacher_only"
    await asyncio.sleep(0.3)
    assert classmate.received["chat.message"] == []
    # The private messages are in the history of the two, not of the classmate.
    _, rejoined = await lesson.entered("student-5a-02")
    assert rejoined["room"]["messages"] == []
    _, rejoined = await lesson.entered("student")
    assert [m["text"] for m in rejoined["room"]["messages"]] == ["Останься после урока", "Хорошо"]


async def test_hands_reactions_and_deleted_messages(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(**QUICK), clients)
    teacher, _ = await lesson.entered("teacher")
    student, joined = await lesson.entered("student")
    student_id = joined["room"]["me"]["id"]
    classmate, _ = await lesson.entered("student-5a-02")

    assert (await student.call("hand.set", {"lesson_id": lesson.id, "raised": True}))["ok"]
    (hand,) = await teacher.wait_for("hand.changed")
    assert hand["data"]["person_id"] == student_id and hand["data"]["raised"] is True
    code = await refused(
        classmate, "hand.set", {"lesson_id": lesson.id, "raised": False, "person_id": student_id}
    )
    assert code == "not_the_teacher"
    _, late = await lesson.entered("student-5a-05")
    assert [h["person_id"] for h in late["room"]["hands"]] == [student_id]
    lowered = await teacher.call(
        "hand.set", {"lesson_id": lesson.id, "raised": False, "person_id": student_id}
    )
    assert lowered["ok"], lowered
    hands = await student.wait_for("hand.changed", count=2)
    assert hands[-1]["data"]["raised"] is False

    assert (await classmate.call("reaction.send", {"lesson_id": lesson.id, "kind": "clap"}))["ok"]
    (reaction,) = await teacher.wait_for("reaction")
    assert reaction["data"]["kind"] == "clap"
    assert await refused(classmate, "reaction.send", {"lesson_id": lesson.id, "kind": "bomb"}) == (
        "invalid_payload"
    )

    sent = await student.call("chat.send", {"lesson_id": lesson.id, "text": "глупость"})
    message_id = sent["data"]["id"]
    code = await refused(
        classmate, "chat.delete", {"lesson_id": lesson.id, "message_id": message_id}
    )
    assert code == "not_the_teacher"
    assert (await teacher.call("chat.delete", {"lesson_id": lesson.id, "message_id": message_id}))[
        "ok"
    ]
    (deleted,) = await classmate.wait_for("chat.deleted")
    assert deleted["data"]["id"] == message_id
    _, rejoined = await lesson.entered("student-5a-06")
    assert rejoined["room"]["messages"] == []


async def test_a_resent_message_is_posted_once(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(**QUICK), clients)
    await lesson.entered("teacher")
    student, _ = await lesson.entered("student")
    payload = {"lesson_id": lesson.id, "text": "ответ: 42", "client_id": "draft-1"}
    first = await student.call("chat.send", payload)
    second = await student.call("chat.send", payload)
    assert first["data"]["id"] == second["data"]["id"]
    assert second["data"]["repeated"] is True
    await asyncio.sleep(0.2)
    assert len(student.received["chat.message"]) == 1


async def test_who_joins_finds_a_message_still_waiting_to_be_stored(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    """Messages that follow each other closely wait to be stored together; a student who
    joins meanwhile still finds them in the room's history, and the join does not wait
    the linger out."""
    linger = 1.5
    lesson = await a_lesson(await custom_server(**QUICK, write_linger=linger), clients)
    teacher, _ = await lesson.entered("teacher")
    await asyncio.sleep(linger + 0.1)  # the student's own visit will not wait for company
    first = {"lesson_id": lesson.id, "text": "Откройте учебник"}
    assert (await teacher.call("chat.send", first))["ok"]  # stored at once
    second = {"lesson_id": lesson.id, "text": "Страница 42"}
    sending = asyncio.create_task(teacher.call("chat.send", second))  # waits for company
    await teacher.wait_for("chat.message", count=2)  # delivered, not yet stored
    assert not sending.done()
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, joined = await lesson.entered("student")
    assert loop.time() - started < linger * 0.7
    assert [m["text"] for m in joined["room"]["messages"]] == ["Откройте учебник", "Страница 42"]
    assert (await sending)["ok"]


async def test_who_joins_while_a_message_is_being_published_finds_it(
    custom_server: ServerFactory, clients: list[LiveClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message is on the bus before its sender's node hears back and stores it; a
    student whose stream begins after it, in that time, still finds it in the history."""
    server = await custom_server(**QUICK, write_linger=0.0)
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    student, place = await lesson.person("student")
    bus = server.app[SERVICES_KEY].realtime.bus
    assert bus is not None
    published = asyncio.Event()
    publish_once = bus.publish_once

    async def answered_late(channel: str, payload: bytes, key: str) -> tuple[int, bool]:
        answer = await publish_once(channel, payload, key)
        published.set()
        await asyncio.sleep(0.5)  # the bus's reply still on its way
        return answer

    monkeypatch.setattr(bus, "publish_once", answered_late)
    message = {"lesson_id": lesson.id, "text": "Тема урока", "client_id": "c-1"}
    sending = asyncio.create_task(teacher.call("chat.send", message))
    await published.wait()
    joined = await enter(student, place)
    assert joined["ok"], joined
    assert [m["text"] for m in joined["data"]["room"]["messages"]] == ["Тема урока"]
    assert (await sending)["ok"]


async def test_who_joins_on_another_node_finds_a_message_held_back_there(
    custom_server: ServerFactory, clients: list[LiveClient], redis_prefix: str
) -> None:
    """Two nodes over Redis and no routing by lesson: a message held back on
    the sender's node to be stored with those that follow is in the history of whoever
    enters through the other node meanwhile, whether the room had members there before
    the message (what the node heard) or not (what it reads from the bus on subscribing)."""
    linger = 3.0
    bus = {"bus_url": REDIS_URL, "bus_prefix": redis_prefix}
    sender = await custom_server(**QUICK, **bus, write_linger=linger)
    other = await custom_server(**QUICK, **bus, write_linger=0.0)
    lesson = await a_lesson(sender, clients)
    teacher, _ = await lesson.entered("teacher")
    await asyncio.sleep(0.3)  # the first message is then written at once
    first = {"lesson_id": lesson.id, "text": "Откройте учебник"}
    assert (await teacher.call("chat.send", first))["ok"]
    second = {"lesson_id": lesson.id, "text": "Страница 42"}
    sending = asyncio.create_task(teacher.call("chat.send", second))  # held back
    await teacher.wait_for("chat.message", count=2)
    started = asyncio.get_running_loop().time()
    elsewhere = Lesson(other, lesson.id, clients)
    _, joined = await elsewhere.entered("student")  # the room's first member there
    assert [m["text"] for m in joined["room"]["messages"]] == [first["text"], second["text"]]
    third = {"lesson_id": lesson.id, "text": "Задача 5"}
    also_sending = asyncio.create_task(teacher.call("chat.send", third))
    await teacher.wait_for("chat.message", count=3)
    _, joined = await elsewhere.entered("student-5a-02")
    assert [m["text"] for m in joined["room"]["messages"]] == [
        first["text"],
        second["text"],
        third["text"],
    ]
    assert asyncio.get_running_loop().time() - started < linger * 0.8  # still held back
    assert not sending.done()
    assert (await sending)["ok"] and (await also_sending)["ok"]


async def test_who_enters_a_room_where_nothing_was_said_is_not_read_for(
    custom_server: ServerFactory, clients: list[LiveClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the bell people enter rooms where nothing was said and no hand is up: a node that
    read a room as empty, and heard nothing since that could have changed it, gives the next
    ones the empty room without reading the database; a hand or a private message makes it
    read again, and each person finds what is theirs."""
    reads: list[int] = []
    read_contents = room_events.room_contents

    async def counted(db: Database, room: Room, viewer: Principal) -> RoomContents:
        reads.append(viewer.person_id)
        return await read_contents(db, room, viewer)

    monkeypatch.setattr(room_events, "room_contents", counted)
    server = await custom_server(**QUICK)
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    raising, first = await lesson.entered("student-5a-02")
    assert len(reads) == 1, "the teacher's read found the room empty"
    assert first["room"]["messages"] == [] and first["room"]["hands"] == []

    assert (await raising.call("hand.set", {"lesson_id": lesson.id, "raised": True}))["ok"]
    _, joined = await lesson.entered("student-5a-03")
    assert [hand["person_id"] for hand in joined["room"]["hands"]] == [first["room"]["me"]["id"]]
    assert (await raising.call("hand.set", {"lesson_id": lesson.id, "raised": False}))["ok"]
    _, joined = await lesson.entered("student-5a-04")
    assert joined["room"]["hands"] == [] and len(reads) == 3
    _, joined = await lesson.entered("student-5a-05")
    assert joined["room"]["hands"] == [] and len(reads) == 3, "empty again: not read"

    async with server.app[SERVICES_KEY].db.session() as session:
        student_id = await session.scalar(select(Person.id).where(Person.username == "student"))
    private = {"lesson_id": lesson.id, "text": "Зайди после урока", "to": student_id}
    assert (await teacher.call("chat.send", private))["ok"]
    _, joined = await lesson.entered("student")
    assert [m["text"] for m in joined["room"]["messages"]] == ["Зайди после урока"]
    _, joined = await lesson.entered("student-5a-06")
    assert joined["room"]["messages"] == [] and len(reads) == 5
    assert "node.chat.private" not in raising.received, "the nodes' note is theirs alone"


async def test_refused_links(custom_server: ServerFactory, clients: list[LiveClient]) -> None:
    server = await custom_server(**QUICK)
    lesson = await a_lesson(server, clients)
    other = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    student, place = await lesson.person("student")
    other_place = await seat(server.url, "student", other.id)
    classmate_place = await seat(server.url, "student-5a-02", lesson.id)

    assert (await enter(student, place, link=other_place.link))["error"]["code"] == (
        "link_wrong_lesson"
    )
    assert (await enter(student, place, link=classmate_place.link))["error"]["code"] == (
        "link_not_yours"
    )
    me = await get_json(server.url, "/api/me", place.token)
    expired = JoinLinks(TEST_SECRET).issue(
        lesson.id, me["id"], 0, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    assert (await enter(student, place, link=expired))["error"]["code"] == "link_expired"
    revoked = await teacher.call("link.revoke", {"lesson_id": lesson.id, "person_id": me["id"]})
    assert revoked["ok"] and revoked["data"]["generation"] == 1
    assert (await enter(student, place))["error"]["code"] == "link_revoked"
    fresh = await seat(server.url, "student", lesson.id)
    assert fresh.link != place.link
    assert (await enter(student, fresh))["ok"], "the timetable shows the new link"

    outsider = LiveClient()
    clients.append(outsider)
    await outsider.connect(server.url, await login(server.url, "student-7v-01"))
    assert (await enter(outsider, place))["error"]["code"] == "not_a_participant"


async def test_the_teacher_sees_live_attendance_and_gets_the_report(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(reconnect_grace=0.5, **QUICK)
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    student, joined = await lesson.entered("student")
    student_id = joined["room"]["me"]["id"]
    changes = await teacher.wait_for("presence.changed", count=2)
    assert changes[-1]["data"]["person"]["id"] == student_id
    assert changes[-1]["data"]["online"] is True
    assert changes[-1]["channel"] == f"room:{lesson.id}:staff"
    await student.close()
    changes = await teacher.wait_for("presence.changed", count=3)
    assert changes[-1]["data"] == {**changes[-1]["data"], "online": False}
    assert changes[-1]["data"]["person"] == changes[-2]["data"]["person"], "named as on entry"
    assert "presence.changed" not in (await lesson.entered("student-5a-02"))[0].received

    teacher_token = (await seat(server.url, "teacher", lesson.id)).token
    await asyncio.sleep(0.6)  # past the grace: the student has left early
    report = await get_json(server.url, f"/api/lessons/{lesson.id}/attendance", teacher_token)
    rows = {row["student_id"]: row for row in report["rows"]}
    assert len(rows) == 25
    assert rows[student_id]["status"] == "left_early"
    assert len(rows[student_id]["stays"]) == 1
    assert rows[student_id]["minutes_online"] >= 0
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.url}/api/lessons/{lesson.id}/attendance.csv",
            headers={"Authorization": f"Bearer {teacher_token}"},
        ) as response,
    ):
        assert response.status == 200
        assert response.content_type == "text/csv"
        lines = (await response.text()).splitlines()
    assert lines[0].startswith("student_id,name,status,mark")
    assert len(lines) == 26
    for username in ("student", "teacher2", "parent"):
        token = await login(server.url, username)
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                f"{server.url}/api/lessons/{lesson.id}/attendance",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status == 403, username
            assert (await response.json())["error"]["code"] == "not_the_teacher"


async def test_parents_are_told_of_an_absence_live_and_read_only_their_own_notices(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(absence_after=0.5, **QUICK)
    lesson = await a_lesson(server, clients)
    parent = LiveClient()  # the parent's diary page is open
    clients.append(parent)
    parent_token = await login(server.url, "parent-5a-04")
    await parent.connect(server.url, parent_token)
    assert (await parent.call("notices.join", {}))["ok"]
    await lesson.entered("student")  # in the lobby before the teacher starts
    await lesson.entered("teacher")
    (notice,) = await parent.wait_for("notice", timeout=10)
    assert notice["data"]["kind"] == "absent"
    assert notice["data"]["lesson"]["id"] == lesson.id
    listed = await get_json(server.url, "/api/notices", parent_token)
    assert [n["id"] for n in listed["notices"]] == [notice["data"]["id"]]
    own = await get_json(server.url, f"/api/notices/{notice['data']['id']}", parent_token)
    assert own["student"]["id"] == notice["data"]["student"]["id"]

    other_parent = await login(server.url, "parent-5a-05")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.url}/api/notices/{notice['data']['id']}",
            headers={"Authorization": f"Bearer {other_parent}"},
        ) as response,
    ):
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "notice_not_found"
    lucky = await login(server.url, "parent")
    assert (await get_json(server.url, "/api/notices", lucky))["notices"] == [], (
        "the parent of a student who came is told nothing"
    )

    # The student comes late: the mark turns into "late" and the parent hears again.
    await lesson.entered("student-5a-04")
    notices = await parent.wait_for("notice", count=2, timeout=10)
    assert notices[-1]["data"]["kind"] == "late"


async def test_absences_reported_in_advance_and_clinic_notes(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(integration_key=INTEGRATION_KEY, **QUICK)
    parent = await login(server.url, "parent")
    me = await get_json(server.url, "/api/me", parent)
    child = me["children"][0]["id"]
    today = dt.date.today().isoformat()
    status, body = await post_json(
        server.url,
        "/api/absences",
        parent,
        {"child_id": child, "date_from": today, "date_to": today, "reason": "семейные"},
    )
    assert status == 200, body
    assert body["source"] == "parent"
    someone_else = (
        await get_json(server.url, "/api/me", await login(server.url, "student-5a-09"))
    )["id"]
    status, body = await post_json(
        server.url,
        "/api/absences",
        parent,
        {"child_id": someone_else, "date_from": today, "date_to": today, "reason": "x"},
    )
    assert (status, body["error"]["code"]) == (404, "child_not_found")
    status, body = await post_json(
        server.url,
        "/api/absences",
        parent,
        {"child_id": child, "date_from": today, "date_to": "2020-01-01", "reason": "x"},
    )
    assert (status, body["error"]["code"]) == (400, "bad_range")

    note = {"student_id": someone_else, "date_from": today, "date_to": today}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/integrations/illness-notes", json=note) as r:
            assert r.status == 401
        async with http.post(
            f"{server.url}/api/integrations/illness-notes",
            json=note,
            headers={"X-Api-Key": INTEGRATION_KEY},
        ) as r:
            assert r.status == 200
            assert (await r.json())["source"] == "clinic"


async def test_one_student_on_two_devices_is_one_attendee(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(**QUICK)
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    phone, joined = await lesson.entered("student")
    student_id = joined["room"]["me"]["id"]
    laptop, _ = await lesson.entered("student")
    await phone.close()
    await asyncio.sleep(0.3)
    mine = [
        change["data"]["online"]
        for change in teacher.received["presence.changed"]
        if change["data"]["person"]["id"] == student_id
    ]
    assert mine == [True], "the second device and the first one's leaving change nothing"
    token = (await seat(server.url, "teacher", lesson.id)).token
    report = await get_json(server.url, f"/api/lessons/{lesson.id}/attendance", token)
    (row,) = [row for row in report["rows"] if row["student_id"] == student_id]
    assert row["online"] is True and row["status"] == "present"
    assert len(row["stays"]) == 1 and row["stays"][0]["left_at"] is None
    await laptop.close()
    changes = await teacher.wait_for("presence.changed", count=3)
    assert changes[-1]["data"]["online"] is False
