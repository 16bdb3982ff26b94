"""Video on the lesson pages in a real Chromium with fake cameras and microphones: the teacher
publishes from the console, students watch and listen, one student is allowed to publish and
is muted, one switches to audio only."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from classroom.demo import add_lesson
from tests.browser import AXE, accessibility_violations
from tests.clients import get_json, login
from tests.conftest import ServerFactory
from tests.school_day import start_on_school_today, waits_out_midnight
from tests.web.test_lesson_pages import QUICK, STUDENTS, People, join_from_today
from web.services import SERVICES_KEY

# The test's own view of the page's connections (the page keeps them to itself): every
# RTCPeerConnection is remembered, and a tile's statistics are those of the connection
# whose received tracks the tile's <video> plays.
STATS = """
window.__pcs = [];
const NativePeerConnection = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePeerConnection {
  constructor(...args) { super(...args); window.__pcs.push(this); }
};
window.__inbound = async (personId) => {
  const video = document.querySelector(`#tiles li[data-person-id="${personId}"] video`);
  const ids = new Set((video?.srcObject?.getTracks() ?? []).map((track) => track.id));
  for (const pc of window.__pcs) {
    if (pc.connectionState === "closed") continue;
    if (!pc.getReceivers().some((receiver) => ids.has(receiver.track.id))) continue;
    const seen = { frames: 0, width: 0, codec: null, packets: 0, bytes: 0 };
    const stats = await pc.getStats();
    for (const report of stats.values()) {
      if (report.type !== "inbound-rtp") continue;
      if (report.kind === "video") {
        seen.frames = report.framesDecoded || 0;
        seen.width = report.frameWidth || 0;
        seen.codec = stats.get(report.codecId)?.mimeType ?? null;
      } else {
        seen.packets = report.packetsReceived || 0;
        seen.bytes = report.bytesReceived || 0;
      }
    }
    return seen;
  }
  return null;
};
"""

PHONE = {"width": 375, "height": 740}


async def inbound(page: Page, person_id: int) -> dict[str, Any]:
    seen = await page.evaluate("(id) => window.__inbound(id)", person_id)
    assert seen is not None, f"no connection plays person {person_id}"
    return dict(seen)


async def until_inbound(
    page: Page, person_id: int, condition: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    """Polls a tile's statistics until ``condition`` holds (wait_for_function would take the
    promise ``__inbound`` returns for a true value)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await page.evaluate("(id) => window.__inbound(id)", person_id)
        if seen is not None and condition(seen):
            return dict(seen)
        if time.monotonic() > deadline:
            raise AssertionError(f"person {person_id}'s media never got there: {seen}")
        await asyncio.sleep(0.2)


async def growth(page: Page, person_id: int, seconds: float = 1.0) -> dict[str, int]:
    """How much each counter of a tile's connection grows in ``seconds``."""
    before = await inbound(page, person_id)
    await page.wait_for_timeout(seconds * 1000)
    after = await inbound(page, person_id)
    return {key: after[key] - before[key] for key in ("frames", "packets", "bytes")}


async def until_stopped(page: Page, person_id: int, counter: str, timeout: float = 10) -> None:
    """Waits until ``counter`` of a tile's connection stops growing for half a second: what
    was already on its way when a switch was pressed arrives late on a busy machine."""
    deadline = time.monotonic() + timeout
    while (await growth(page, person_id, 0.5))[counter] > 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"person {person_id}'s {counter} never stopped")


async def person_id(server_url: str, username: str) -> int:
    me = await get_json(server_url, "/api/me", await login(server_url, username))
    return int(me["id"])


@waits_out_midnight
async def test_video_in_a_lesson_from_the_pages(
    custom_server: ServerFactory, media_browser: Browser
) -> None:
    server = await custom_server(media_loopback_only=True, **QUICK)
    starts_at = await start_on_school_today(-dt.timedelta(minutes=1))
    lesson_id = await add_lesson(server.app[SERVICES_KEY].db, starts_at=starts_at)
    ids = {name: await person_id(server.url, name) for name in ("teacher", *STUDENTS)}
    people = People(media_browser, server)

    # The teacher starts the lesson from the timetable and turns the camera on.
    teacher = await people.tab("teacher", bypass_csp=True)
    await teacher.add_init_script(STATS)
    await teacher.locator(f'li[data-lesson-id="{lesson_id}"] button.start').click()
    await teacher.wait_for_url(f"**/lesson/{lesson_id}")
    await expect(teacher.locator("#state-text")).to_have_text("Урок идёт. Вы ведёте урок.")
    camera = teacher.get_by_role("button", name="Камера и микрофон")
    await camera.click()
    await expect(camera).to_have_attribute("aria-pressed", "true")
    await expect(teacher.locator("#media-status")).to_have_text(
        "Камера и микрофон включены: вас видят и слышат."
    )
    await expect(teacher.get_by_label("Видео: Вы")).to_be_visible()

    # Three students join from their timetables; each decodes the picture and gets sound.
    students: dict[str, Page] = {}
    first_frame: dict[str, float] = {}
    for username in STUDENTS:
        options: dict[str, Any] = {"viewport": PHONE} if username == STUDENTS[2] else {}
        page = await people.tab(username, **options)
        await page.add_init_script(STATS)
        clicked = time.monotonic()
        await join_from_today(page, lesson_id)
        await until_inbound(page, ids["teacher"], lambda s: s["frames"] > 0)
        first_frame[username] = time.monotonic() - clicked
        students[username] = page
    for page in students.values():
        await until_inbound(
            page, ids["teacher"], lambda s: s["frames"] >= 30 and s["packets"] >= 50
        )
        seen = await inbound(page, ids["teacher"])
        assert seen["codec"] == "video/VP8" and seen["width"] > 0, seen
        # The picture keeps moving; four Chromiums on two cores decode only a few frames a
        # second, so this asks for motion, not for a frame rate.
        grew = await growth(page, ids["teacher"], 2.0)
        assert grew["frames"] >= 2 and grew["packets"] >= 20 and grew["bytes"] > 0, grew
        await expect(page.get_by_label("Видео: Анна Сергеевна Орлова")).to_be_visible()
    print(f"time to the first decoded frame after joining: {first_frame}")

    # Chrome's fake microphone beeps: the audio levels in its packets make the teacher the
    # speaker, highlighted and announced politely.
    watcher = students[STUDENTS[1]]
    teacher_tile = watcher.locator(f'#tiles li[data-person-id="{ids["teacher"]}"]')
    await expect(teacher_tile).to_have_class("tile speaking", timeout=10_000)
    await expect(watcher.locator("#media-speaking")).to_have_text("Говорит: Анна Сергеевна Орлова")

    # The teacher allows one student to publish; the student turns the camera on.
    speaker, listener, weak = (students[name] for name in STUDENTS)
    speaker_id = ids[STUDENTS[0]]
    row = teacher.locator(f'#people li[data-person-id="{speaker_id}"]')
    await row.locator("summary").click()
    allow = row.get_by_role("button", name="Разрешить камеру и микрофон")
    await allow.click()
    await expect(allow).to_have_attribute("aria-pressed", "true")
    await expect(speaker.locator("#alert")).to_have_text(
        "Учитель разрешил вам включить камеру и микрофон."
    )
    await speaker.get_by_role("button", name="Камера и микрофон").click()
    await until_inbound(teacher, speaker_id, lambda s: s["frames"] >= 20)
    await until_inbound(listener, speaker_id, lambda s: s["packets"] >= 50)
    assert (await growth(listener, speaker_id))["packets"] >= 20

    # The teacher mutes that student: the sound stops reaching the others, the picture not.
    tile = teacher.locator(f'#tiles li[data-person-id="{speaker_id}"]')
    mute = tile.get_by_role("button", name="Выключить звук")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(speaker.locator("#alert")).to_have_text("Учитель выключил ваш микрофон.")
    await until_stopped(listener, speaker_id, "packets")
    muted = await growth(listener, speaker_id, 1.5)
    assert muted["packets"] == 0 and muted["frames"] > 0, muted

    # On a weak connection a student turns video off: sound goes on, no more frames.
    audio_only = weak.get_by_role("button", name="Только звук")
    await audio_only.click()
    await expect(audio_only).to_have_attribute("aria-pressed", "true")
    await until_stopped(weak, ids["teacher"], "frames")
    quiet = await growth(weak, ids["teacher"], 1.5)
    assert quiet["frames"] == 0 and quiet["packets"] >= 30, quiet
    await audio_only.click()
    before = (await inbound(weak, ids["teacher"]))["frames"]
    await until_inbound(weak, ids["teacher"], lambda s: s["frames"] >= before + 10)

    decoded = {
        name: (await inbound(page, ids["teacher"]))["frames"] for name, page in students.items()
    }
    print(f"frames of the teacher's camera decoded: {decoded}")

    # On a phone nothing scrolls sideways; the console passes the accessibility audit.
    assert await weak.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert AXE.exists()
    assert await accessibility_violations(teacher) == []
    await people.close()
