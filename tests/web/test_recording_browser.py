"""A recording made and played from the pages in a real Chromium with a fake camera: the
teacher records about ten seconds and draws on the board, the student sees that the lesson is
recorded and writes in the chat; the file holds VP8 and Opus for the time recorded; the
student plays the recording and sees the stroke and the message when the video reaches them."""

from __future__ import annotations

import datetime as dt
import re
import time

from playwright.async_api import Browser, expect

from classroom.demo import add_lesson
from recordings import store
from tests.clients import get_json, login
from tests.conftest import ServerFactory
from tests.recordings.test_recorder import probe
from tests.school_day import start_on_school_today, waits_out_midnight
from tests.web.test_board_browser import board_ready, draw
from tests.web.test_lesson_pages import QUICK, People, join_from_today, send_chat
from web.services import SERVICES_KEY

MESSAGE = "Вопрос во время записи"


@waits_out_midnight
async def test_a_lesson_is_recorded_and_played_with_its_chat(
    custom_server: ServerFactory,
    media_browser: Browser,
) -> None:
    server = await custom_server(media_loopback_only=True, **QUICK)
    starts_at = await start_on_school_today(-dt.timedelta(minutes=1))
    lesson_id = await add_lesson(server.app[SERVICES_KEY].db, starts_at=starts_at)
    people = People(media_browser, server)
    try:
        teacher = await people.tab("teacher", bypass_csp=True)
        await teacher.locator(f'li[data-lesson-id="{lesson_id}"] button.start').click()
        await teacher.wait_for_url(f"**/lesson/{lesson_id}")
        camera = teacher.get_by_role("button", name="Камера и микрофон")
        await camera.click()
        await expect(camera).to_have_attribute("aria-pressed", "true")
        student = await people.tab("student")
        await join_from_today(student, lesson_id)
        await expect(student.locator("#recording-badge")).to_be_hidden()

        await board_ready(teacher)
        record = teacher.get_by_role("button", name="Записывать урок")
        clicked = time.monotonic()
        await record.click()
        await expect(teacher.locator("#record")).to_have_attribute("aria-pressed", "true")
        pressed = time.monotonic()
        await expect(student.locator("#recording-badge")).to_have_text("● Идёт запись урока")
        await student.wait_for_timeout(2000)
        await teacher.locator(".board-overlay").scroll_into_view_if_needed()
        await draw(teacher, 0.2, 0.2, 0.7, 0.6)  # a stroke about two seconds in
        await expect(teacher.locator(".board")).to_have_attribute("data-version", "1")
        await student.wait_for_timeout(2000)
        await send_chat(student, MESSAGE)
        await student.wait_for_timeout(6000)
        stopping = time.monotonic()
        await teacher.get_by_role("button", name="Остановить запись").click()
        await expect(student.locator("#recording-badge")).to_be_hidden()
        saved = teacher.get_by_role("link", name="Запись сохранена: открыть")
        await expect(saved).to_have_attribute("href", re.compile(r"^/recording/\d+$"))
        stopped = time.monotonic()

        token = await login(server.url, "student")
        listing = await get_json(server.url, f"/api/lessons/{lesson_id}/recordings", token)
        (recording,) = listing["recordings"]
        assert 9 <= recording["duration"] <= 12, recording
        # The file: VP8 and Opus, as long as the recording ran (within a second).
        started = dt.datetime.fromisoformat(recording["started_at"])
        data_dir = server.app[SERVICES_KEY].settings.data_dir
        found = probe(data_dir / store.file_name(lesson_id, started))
        assert found["codecs"] == ["opus", "vp8"], found
        assert found["video"] > 100 and found["audio"] > 200, found
        assert found["duration"] is not None, found
        assert abs(found["duration"] - recording["duration"]) < 1.0, (found, recording)
        shortest, longest = stopping - pressed, stopped - clicked
        assert shortest - 1.0 < found["duration"] < longest + 1.0, (found, shortest, longest)

        await student.goto(f"{server.url}/recording/{recording['id']}")
        video = student.locator("#recording-video")
        await student.wait_for_function(
            "() => document.getElementById('recording-video').readyState >= 1", timeout=20000
        )
        duration = await video.evaluate("(v) => v.duration")
        assert duration == float("inf") or 8 <= duration <= 13, duration
        message = student.locator("#recording-chat li", has_text=MESSAGE)
        board = student.locator("#recording-board")
        described = student.locator("#recording-board-description")
        await expect(message).to_be_hidden()  # sent about four seconds in
        await expect(described).to_have_text("На странице 0 объектов.")
        await video.evaluate("(v) => { v.muted = true; v.currentTime = 7; }")
        await expect(message).to_be_visible()
        await expect(described).to_have_text("На странице 1 объектов.")
        await expect(board).to_have_attribute("data-applied", "1")
        await video.evaluate("(v) => { v.currentTime = 1; }")
        await expect(message).to_be_hidden()
        await expect(described).to_have_text("На странице 0 объектов.")
        await video.evaluate("(v) => { v.currentTime = 0; return v.play(); }")
        await expect(message).to_be_visible(timeout=12000)  # playing reaches it
        frames = await video.evaluate("(v) => v.getVideoPlaybackQuality().totalVideoFrames")
        assert frames > 0
    finally:
        await people.close()
