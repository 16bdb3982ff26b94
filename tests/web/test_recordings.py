"""Lesson recordings end to end: the teacher records a published clip over real aiortc peers,
everyone sees that it records, and only the lesson's people may list and fetch the file."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bench.clip import make_clip
from bench.peers import ClipPublisher
from classroom.demo import add_lesson
from classroom.storage.models import AuditEntry, Person, Recording
from recordings import store
from recordings.webm import WebmWriter
from tests.clients import LiveClient, login
from tests.conftest import ServerFactory
from tests.recordings.test_recorder import probe
from tests.web.test_live_lessons import QUICK, a_lesson, refused
from tests.web.test_media_events import signal
from web.services import SERVICES_KEY


async def fetch(
    url: str, path: str, token: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, bytes, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, f"{url}{path}", headers={"Authorization": f"Bearer {token}", **(headers or {})}
        ) as response,
    ):
        return response.status, await response.read(), response.headers


async def test_the_teacher_records_and_only_the_lessons_people_may_watch(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(media_loopback_only=True, **QUICK)
    services = server.app[SERVICES_KEY]
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    student, _ = await lesson.entered("student")
    ref = {"lesson_id": lesson.id}
    publisher = ClipPublisher(make_clip())
    try:
        await publisher.start(signal(teacher, "media.publish", ref))
        assert await refused(student, "recording.start", ref) == "not_teacher"
        assert await refused(teacher, "recording.stop", ref) == "not_recording"
        began = time.monotonic()
        started = await teacher.call("recording.start", ref)
        start_answered = time.monotonic()
        assert started["ok"], started
        (state,) = await student.wait_for("recording.state")
        assert state["data"]["recording"] is True
        assert await refused(teacher, "recording.start", ref) == "already_recording"
        listing = await student.call("media.list", ref)
        assert listing["data"]["recording"] is True
        await asyncio.sleep(2)
        sent = await student.call("chat.send", {"lesson_id": lesson.id, "text": "во время записи"})
        assert sent["ok"], sent
        await asyncio.sleep(3)
        stop_asked = time.monotonic()
        stopped = await teacher.call("recording.stop", ref)
        elapsed = time.monotonic() - began
        assert stopped["ok"], stopped
        states = await student.wait_for("recording.state", 2)
        assert states[-1]["data"]["recording"] is False
    finally:
        await publisher.close()

    recording = stopped["data"]
    assert recording["ended_at"] is not None and recording["size"] > 50_000
    # The recording spans at least from the start's answer to the stop's request and at most
    # from the start's request to the stop's answer (calls are slow on a busy machine).
    shortest, longest = stop_asked - start_answered - 0.5, elapsed + 0.5
    assert shortest < recording["duration"] < longest
    found = probe(services.settings.data_dir / store.file_name(lesson.id, _at(recording)))
    assert found["codecs"] == ["opus", "vp8"]
    assert found["duration"] is not None and shortest < found["duration"] < longest

    url, rid = server.url, recording["id"]
    student_token = await login(url, "student")
    status, body, _ = await fetch(url, f"/api/lessons/{lesson.id}/recordings", student_token)
    assert status == 200 and b'"recordings"' in body
    status, body, headers = await fetch(
        url, f"/api/recordings/{rid}/file", student_token, headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and len(body) == 100 and body[:4] == b"\x1a\x45\xdf\xa3"  # EBML
    assert headers["Content-Range"] == f"bytes 0-99/{recording['size']}"
    status, body, _ = await fetch(url, f"/api/recordings/{rid}/timeline", student_token)
    assert status == 200 and "во время записи".encode() in body

    # Another class's student and a parent of another class's child are refused, with reasons.
    other_student = await login(url, "student-6b-02")
    status, body, _ = await fetch(url, f"/api/recordings/{rid}/file", other_student)
    assert status == 403 and b"not_in_class" in body
    other_parent = await login(url, "parent-6b-02")
    status, body, _ = await fetch(url, f"/api/lessons/{lesson.id}/recordings", other_parent)
    assert status == 403 and b"not_your_child" in body
    status, _, _ = await fetch(url, "/api/recordings/999999/file", student_token)
    assert status == 404

    # The child's parent may watch, and that read is audited.
    parent = await login(url, "parent")
    status, body, _ = await fetch(url, f"/api/recordings/{rid}/file", parent)
    assert status == 200 and len(body) == recording["size"]
    async with services.db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert "recording_listed" in actions

    # Only the teacher deletes it early; the file goes with the row.
    status, _, _ = await fetch(url, f"/api/recordings/{rid}", student_token, method="DELETE")
    assert status == 403
    teacher_token = await login(url, "teacher")
    status, _, _ = await fetch(url, f"/api/recordings/{rid}", teacher_token, method="DELETE")
    assert status == 200
    status, _, _ = await fetch(url, f"/api/recordings/{rid}/file", teacher_token)
    assert status == 404
    assert not list((services.settings.data_dir / "recordings").rglob("*.webm"))


def _at(recording: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(recording["started_at"])


async def test_recordings_past_their_retention_are_swept(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(**QUICK)
    services = server.app[SERVICES_KEY]
    data_dir = services.settings.data_dir
    lesson_id = (await a_lesson(server, clients)).id
    now = dt.datetime.now(dt.UTC)
    earlier = await add_lesson(services.db, starts_at=now - dt.timedelta(hours=3))
    made = []
    async with services.db.session() as session:
        teacher_id = await session.scalar(select(Person.id).where(Person.username == "teacher"))
        assert teacher_id is not None
        for days, ended, lesson in (
            (31, True, lesson_id),
            (29, True, lesson_id),
            (0, False, earlier),
            (0, False, lesson_id),
        ):
            started = now - dt.timedelta(days=days, hours=3 if lesson == earlier else 0)
            row = Recording(
                lesson_id=lesson,
                person_id=teacher_id,
                path=store.file_name(lesson_id, started),
                started_at=started,
                ended_at=started + dt.timedelta(minutes=40) if ended else None,
                size=3,
                duration=2400.0,
            )
            (data_dir / row.path).parent.mkdir(parents=True, exist_ok=True)
            (data_dir / row.path).write_bytes(b"abcdefg")
            if lesson == earlier:  # its recorder died: the file holds two seconds
                write_clip(data_dir / row.path)
            session.add(row)
            made.append(row)
        await session.commit()
    deleted = await store.sweep(
        services.db,
        data_dir,
        now=now,
        retention=dt.timedelta(days=services.settings.recording_retention_days),
        stale=dt.timedelta(minutes=20),
    )
    assert deleted == 1
    assert not (data_dir / made[0].path).exists() and (data_dir / made[1].path).exists()
    async with services.db.session() as session:
        rows = {row.id: row for row in (await session.scalars(select(Recording))).all()}
    assert sorted(rows) == sorted(row.id for row in made[1:])
    closed = rows[made[2].id]  # its lesson ended long ago: closed with what its file holds
    assert closed.ended_at is not None and closed.size > 10_000
    assert 1.5 <= closed.duration <= 2.1
    assert rows[made[3].id].ended_at is None  # its lesson goes on: still recording


def write_clip(path: Path) -> None:
    clip = make_clip()
    writer = WebmWriter(path)
    for index, frame in enumerate(clip.video):
        writer.write("video", frame.data, index * 33, keyframe=frame.keyframe)
    for index, frame in enumerate(clip.audio):
        writer.write("audio", frame.data, index * 20, keyframe=True)
    writer.close()
