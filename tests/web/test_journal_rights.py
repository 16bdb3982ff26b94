"""The authorisation matrix of the journal, diary, library and calendar endpoints: each
endpoint called by every kind of person; what is not theirs is refused with 403 or 404 and
a reason, and nothing of another child leaks."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, select

from classroom import rooms
from classroom.demo import add_lesson
from classroom.storage.models import PanelBinding, Person
from tests.clients import get_json, login
from tests.conftest import LiveServer, ServerFactory
from web.services import SERVICES_KEY

ROLES = {
    "teacher": "teacher",  # teaches the lesson (5А, Математика)
    "teacher_other": "teacher2",  # another teacher (other subjects)
    "student": "student",  # in the lesson's class; the diary's owner
    "student_other": "student-7v-03",
    "parent": "parent",  # the student's parent
    "parent_other": "parent-7v-05",  # a parent of a child in another class
    "trusted": "grandma",  # granted the student's diary by the parent
    "panel": "panel",
}
NEW_TAGS = {"journal", "diary", "library", "calendar"}


@dataclass
class World:
    server: LiveServer
    http: aiohttp.ClientSession
    tokens: dict[str, str]
    ids: dict[str, int] = field(default_factory=dict)

    async def call(
        self, role: str | None, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        async with self.http.request(
            method, self.server.url + path, json=body, headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()


@pytest.fixture
async def world(custom_server: ServerFactory) -> AsyncIterator[World]:
    server = await custom_server(login_burst=1000)
    db = server.app[SERVICES_KEY].db
    lesson_id = await add_lesson(
        db, starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1), online=True
    )
    async with aiohttp.ClientSession() as http:
        tokens = {
            role: await login(server.url, name) for role, name in ROLES.items() if name != "grandma"
        }
        made = World(server, http, tokens)
        me = await get_json(server.url, "/api/me", tokens["parent"])
        student_id = next(c["id"] for c in me["children"] if c["school_class"]["name"] == "5А")
        status, grandma = await made.call(
            "parent",
            "POST",
            "/api/diary/trusted",
            {
                "username": "grandma",
                "display_name": "Бабушка",
                "password": "grandma-pass-1",
                "child_ids": [student_id],
            },
        )
        assert status == 200, grandma
        tokens["trusted"] = await login(server.url, "grandma", "grandma-pass-1")
        teacher_me = await get_json(server.url, "/api/me", tokens["teacher"])
        journals = (await get_json(server.url, "/api/journal/journals", tokens["teacher"]))[
            "journals"
        ]
        pair = next(
            j
            for j in journals
            if j["school_class"]["name"] == "5А" and j["subject"]["name"] == "Математика"
        )
        status, text = await made.call(
            "teacher",
            "POST",
            "/api/library/materials",
            {
                "kind": "text",
                "title": "Памятка",
                "subject": "Математика",
                "grade_level": 5,
                "text": "Дроби",
            },
        )
        assert status == 200, text
        status, file = await made.call(
            "teacher",
            "POST",
            "/api/library/materials",
            {"kind": "file", "title": "Задачи", "subject": "Математика", "grade_level": 5},
        )
        status, _ = await made.call(
            "teacher",
            "PUT",
            f"/api/library/materials/{file['id']}/file?file_name=a.txt",
            data=b"2 + 2",
            headers={"Content-Type": "text/plain"},
        )
        assert status == 200
        status, _ = await made.call(
            "teacher",
            "PUT",
            f"/api/journal/lessons/{lesson_id}/homework",
            {"text": "№ 1", "material_ids": [text["id"], file["id"]]},
        )
        assert status == 200
        # The teacher is in the lesson and pairs the classroom panel with it.
        async with db.session() as session:
            school_id = await session.scalar(
                select(Person.school_id).where(Person.id == teacher_me["id"])
            )
        assert school_id is not None
        room = await rooms.load_room(db, lesson_id, school_id)
        await rooms.teacher_arrived(db, room, now=dt.datetime.now(dt.UTC))
        status, pairing = await made.call("panel", "POST", "/api/panel/pairing")
        assert status == 200, pairing
        status, paired = await made.call(
            "teacher", "POST", "/api/panel/pair", {"code": pairing["code"]}
        )
        assert status == 200 and paired["lesson"]["id"] == lesson_id, paired
        status, grade = await made.call(
            "teacher",
            "POST",
            f"/api/journal/lessons/{lesson_id}/grades",
            {"student_id": student_id, "value": 5, "comment": "Молодец"},
        )
        assert status == 200, grade
        made.ids = {
            "lesson": lesson_id,
            "student": student_id,
            "class": pair["school_class"]["id"],
            "subject": pair["subject"]["id"],
            "grade": grade["id"],
            "text": text["id"],
            "file": file["id"],
            "grandma": grandma["id"],
            "teacher": teacher_me["id"],
        }
        yield made


Everyone = set(ROLES)
FAMILY = {"student", "parent", "trusted"}
AUDIENCE = {"teacher", "panel"} | FAMILY  # of the lesson: its teacher, bound panel, family


def matrix(ids: dict[str, int]) -> list[tuple[str, str, Any, set[str]]]:
    """(method, path, body, the roles that may) — in this order; the teacher acts last."""
    lesson, student, grade = ids["lesson"], ids["student"], ids["grade"]
    return [
        ("GET", "/api/journal/journals", None, {"teacher", "teacher_other"}),
        (
            "GET",
            f"/api/journal/grid?class_id={ids['class']}&subject_id={ids['subject']}",
            None,
            {"teacher"},
        ),
        (
            "PUT",
            f"/api/journal/lessons/{lesson}/note",
            {"topic": "Дроби", "test_title": "Контрольная"},
            {"teacher"},
        ),
        (
            "PUT",
            f"/api/journal/lessons/{lesson}/attendance/{student}",
            {"mark": "late"},
            {"teacher"},
        ),
        (
            "POST",
            f"/api/journal/lessons/{lesson}/grades",
            {"student_id": student, "value": 4},
            {"teacher"},
        ),
        (
            "PATCH",
            f"/api/journal/grades/{grade}",
            {"expected_version": 1, "value": 3, "reason": "ошибка"},
            {"teacher"},
        ),
        ("GET", f"/api/journal/grades/{grade}/versions", None, {"teacher"}),
        (
            "PUT",
            f"/api/journal/lessons/{lesson}/homework",
            {"text": "№ 2", "material_ids": [ids["text"], ids["file"]]},
            {"teacher"},
        ),
        ("GET", f"/api/journal/lessons/{lesson}/history?limit=5", None, {"teacher"}),
        ("GET", "/api/library/materials?q=памятка", None, Everyone - {"panel"}),
        (
            "POST",
            "/api/library/materials",
            {
                "kind": "link",
                "title": "Видео",
                "subject": "Физика",
                "grade_level": 7,
                "url": "https://example.org/v",
            },
            {"teacher", "teacher_other"},
        ),
        ("GET", f"/api/library/materials/{ids['text']}", None, AUDIENCE),
        ("GET", f"/api/library/materials/{ids['file']}/file", None, AUDIENCE),
        ("PUT", f"/api/library/materials/{ids['file']}/file", None, {"teacher"}),
        ("POST", f"/api/library/materials/{ids['text']}/publish", None, set()),
        ("GET", f"/api/library/lessons/{lesson}/materials", None, AUDIENCE),
        (
            "PUT",
            f"/api/library/lessons/{lesson}/materials",
            {"material_ids": [ids["text"]]},
            {"teacher"},
        ),
        ("GET", "/api/diary/students", None, FAMILY | {"student_other", "parent_other"}),
        ("GET", f"/api/diary/week?student_id={student}", None, FAMILY),
        ("GET", "/api/diary/trusted", None, {"parent", "parent_other"}),
        ("POST", "/api/diary/trusted", "new-trusted", {"parent"}),
        ("POST", "/api/calendar/feed", None, Everyone - {"panel"}),
        ("DELETE", "/api/calendar/feed", None, Everyone - {"panel"}),
        ("GET", "/api/calendar/not-a-real-token.ics", None, set()),
        ("DELETE", f"/api/diary/trusted/{ids['grandma']}", None, {"parent"}),
    ]


def templated(path: str) -> str:
    """The OpenAPI path of a concrete one."""
    import re

    path = path.split("?")[0]
    path = re.sub(r"/\d+", "/{}", path)
    return re.sub(r"/calendar/[^/]+\.ics", "/calendar/{}.ics", path)


async def test_every_endpoint_by_every_role(world: World) -> None:
    rows = matrix(world.ids)
    document = await get_json(world.server.url, "/api/openapi.json", world.tokens["teacher"])
    import re

    declared = {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if NEW_TAGS & set(operation["tags"])
    }
    covered = {(method, templated(path)) for method, path, _body, _roles in rows}
    assert declared == covered, declared ^ covered

    order = [role for role in ROLES if role not in ("teacher", "parent")] + ["teacher", "parent"]
    refusals: list[str] = []
    for method, path, body, allowed in rows:
        for number, role in enumerate(order):
            kwargs: dict[str, Any] = {}
            payload = body
            if body == "new-trusted":
                payload = {
                    "username": f"trusted-{number}",
                    "display_name": "Дед",
                    "password": "another-pass-1",
                    "child_ids": [world.ids["student"]],
                }
            if method == "PUT" and path.endswith("/file"):
                kwargs = {"data": b"4 + 4", "headers": {"Content-Type": "text/plain"}}
            status, reply = await world.call(role, method, path, payload, **kwargs)
            if role in allowed:
                assert status == 200, (method, path, role, status, reply)
                continue
            assert status in (403, 404), (method, path, role, status, reply)
            assert reply["error"]["code"] and reply["error"]["message"], reply
            refusals.append(f"{method} {path} {role} {status} {reply['error']['code']}")
        if path.startswith("/api/calendar/") and method == "GET":
            continue
        status, reply = await world.call(
            None, method, path, body if isinstance(body, dict) else None
        )
        assert status == 401, (method, path, status)
    assert refusals


async def test_nothing_of_another_child_leaks(world: World) -> None:
    ids = world.ids
    status, week = await world.call("parent", "GET", f"/api/diary/week?student_id={ids['student']}")
    assert status == 200
    graded = [lesson for lesson in week["lessons"] if lesson["grades"]]
    assert graded and graded[0]["grades"][0]["comment"] == "Молодец"
    me = await get_json(world.server.url, "/api/me", world.tokens["parent"])
    other = next(c["id"] for c in me["children"] if c["id"] != ids["student"])
    status, second = await world.call("parent", "GET", f"/api/diary/week?student_id={other}")
    assert status == 200 and all(not lesson["grades"] for lesson in second["lessons"])
    status, students = await world.call("trusted", "GET", "/api/diary/students")
    assert [s["id"] for s in students["students"]] == [ids["student"]]
    for role in ("trusted", "student"):
        status, reply = await world.call(role, "GET", f"/api/diary/week?student_id={other}")
        assert status == 404 and reply["error"]["code"] == "student_not_found"
    status, _ = await world.call("parent", "DELETE", f"/api/diary/trusted/{ids['grandma']}")
    assert status == 200
    status, reply = await world.call(
        "trusted", "GET", f"/api/diary/week?student_id={ids['student']}"
    )
    assert status == 404
    status, reply = await world.call(
        None, "POST", "/api/login", {"username": "grandma", "password": "grandma-pass-1"}
    )
    assert status == 401


async def test_a_bound_panel_reads_what_is_attached_to_its_lesson_only(world: World) -> None:
    ids = world.ids
    status, other = await world.call(
        "teacher",
        "POST",
        "/api/library/materials",
        {
            "kind": "text",
            "title": "Не для панели",
            "subject": "Математика",
            "grade_level": 5,
            "text": "Степени",
        },
    )
    assert status == 200, other
    admin = await login(world.server.url, "admin")
    world.tokens["admin"] = admin
    status, _ = await world.call("admin", "POST", f"/api/library/materials/{other['id']}/publish")
    assert status == 200

    attached = [
        f"/api/library/materials/{ids['text']}",
        f"/api/library/materials/{ids['file']}/file",
        f"/api/library/lessons/{ids['lesson']}/materials",
    ]
    for path in attached:
        status, reply = await world.call("panel", "GET", path)
        assert status == 200, (path, reply)
    status, listed = await world.call(
        "panel", "GET", f"/api/library/lessons/{ids['lesson']}/materials"
    )
    assert {m["id"] for m in listed["materials"]} == {ids["text"], ids["file"]}
    status, file = await world.call("panel", "GET", attached[1])
    assert file == b"2 + 2"

    # Published, but not attached to the panel's lesson: refused, as is searching.
    status, reply = await world.call("panel", "GET", f"/api/library/materials/{other['id']}")
    assert status == 404 and reply["error"]["code"] == "material_not_found", reply
    status, reply = await world.call("panel", "GET", "/api/library/materials?q=степени")
    assert status == 403 and reply["error"]["code"] == "panel_library_closed"

    # Unbound (the lesson ended or the panel was paired elsewhere): refused everything.
    db = world.server.app[SERVICES_KEY].db
    async with db.session() as session:
        await session.execute(delete(PanelBinding))
        await session.commit()
    status, reply = await world.call("panel", "GET", "/api/panel/status")
    assert status == 200 and reply["bound"] is False
    for path in attached:
        status, reply = await world.call("panel", "GET", path)
        assert status == 404, (path, reply)
