"""The shared whiteboard in Chromium: a panel paired by its QR link draws, students see it,
rights are enforced, offline strokes arrive once, and a late joiner sees the whole board."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

from PIL import Image
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from classroom.demo import add_lesson
from classroom.rooms import load_room
from classroom.storage.models import BoardOp
from tests.clients import get_json, login
from tests.conftest import LiveServer, ServerFactory
from tests.web.test_lesson_pages import People, join_from_today
from web.services import SERVICES_KEY


async def inked(page: Page) -> int:
    """Pixels of the board's canvas that are not the white background."""
    await page.bring_to_front()
    shot = await page.locator(".board-canvas").screenshot()
    image = Image.open(io.BytesIO(shot)).convert("L")
    return sum(1 for value in image.tobytes() if value < 200)


async def until_inked(page: Page, at_least: int, timeout: float = 10.0) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        count = await inked(page)
        if count >= at_least:
            return count
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the board shows {count} inked pixels, wanted {at_least}")
        await asyncio.sleep(0.2)


async def draw(page: Page, x0: float, y0: float, x1: float, y1: float) -> None:
    box = await page.locator(".board-overlay").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    await page.mouse.down()
    for step in range(1, 13):
        f = step / 12
        await page.mouse.move(
            box["x"] + box["width"] * (x0 + (x1 - x0) * f),
            box["y"] + box["height"] * (y0 + (y1 - y0) * f),
        )
    await page.mouse.up()


async def board_ready(page: Page) -> None:
    await expect(page.locator(".board")).to_have_attribute("data-version", "0", timeout=10_000)


async def test_a_panel_paired_by_qr_draws_for_the_class(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server: LiveServer = await custom_server(login_burst=1000)
    services = server.app[SERVICES_KEY]
    starts_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    lesson_id = await add_lesson(services.db, starts_at=starts_at)
    people = People(browser, server)

    # The teacher opens the lesson; the panel shows its pairing code as a QR code.
    teacher = await people.tab("teacher", viewport={"width": 375, "height": 800})
    await teacher.goto(f"{server.url}/lesson/{lesson_id}")
    await expect(teacher.locator("#state-text")).to_have_text("Урок идёт. Вы ведёте урок.")
    panel_context = await browser.new_context(
        locale="ru-RU", viewport={"width": 1920, "height": 1080}
    )
    panel = await panel_context.new_page()
    from tests.browser import Visit, sign_in

    panel_visit = Visit(panel_context, panel)
    panel_visit.expected_statuses.add(403)  # "today" has no timetable for a panel
    people.visits.append(panel_visit)
    await sign_in(panel, server, "panel")
    await panel.wait_for_url("**/panel")
    await expect(panel.locator("#qr svg")).to_be_visible()
    code = (await panel.locator("#pair-code").inner_text()).split(":")[-1].strip()
    link = (await panel.locator("#pair-link").inner_text()).split(": ", 1)[-1].strip()
    assert link.endswith(f"/pair/{code}")

    # The teacher opens the QR link on the phone and confirms: the panel shows the board.
    await teacher.goto(link)
    await teacher.get_by_role("button", name="Подключить панель").click()
    await expect(teacher.locator("#pair-result")).to_contain_text("Панель подключена к уроку")
    await expect(panel.locator("#panel-board")).to_be_visible(timeout=10_000)
    await board_ready(panel)
    await teacher.goto(f"{server.url}/lesson/{lesson_id}")
    await board_ready(teacher)

    blank: dict[Page, int] = {panel: await inked(panel)}
    students: dict[str, Page] = {}
    for username in ("student", "student-5a-02"):
        page = await people.tab(username)
        await join_from_today(page, lesson_id)
        await board_ready(page)
        students[username] = page
        blank[page] = await inked(page)

    # A stroke drawn on the panel appears on both students' boards.
    await draw(panel, 0.1, 0.2, 0.6, 0.5)
    await until_inked(panel, blank[panel] + 500)
    for page in students.values():
        await until_inked(page, blank[page] + 200)
        await expect(page.locator(".board")).to_have_attribute("data-version", "1")

    # A student without the pen is refused: told so, and the stroke is taken off again.
    pupil = students["student"]
    before = await inked(pupil)
    pupil_visit = next(v for v in people.visits if v.page is pupil)
    pupil_visit.expected_statuses.add(403)
    await draw(pupil, 0.2, 0.7, 0.8, 0.9)
    await expect(pupil.locator(".board-error")).to_contain_text("не давал вам перо")
    await expect(pupil.locator(".board")).to_have_attribute("data-queued", "0")
    await asyncio.sleep(0.3)
    assert abs(await inked(pupil) - before) < 20

    # The teacher gives the second student the pen; that student goes offline and draws.
    writer = students["student-5a-02"]
    me = await get_json(server.url, "/api/me", await login(server.url, "student-5a-02"))
    await teacher.get_by_label("Дать перо ученику").select_option(label=me["display_name"])
    await teacher.get_by_role("button", name="Дать перо", exact=True).click()
    await expect(writer.locator(".board-status")).to_contain_text("дал вам перо")
    await expect(writer.locator(".board")).to_have_attribute("data-pen", "true")
    writer_context = next(v.context for v in people.visits if v.page is writer)
    await writer_context.set_offline(True)
    await expect(writer.locator("#live-text")).not_to_have_attribute(
        "data-state", "connected", timeout=10_000
    )
    for n in range(3):
        await draw(writer, 0.1 + 0.1 * n, 0.1, 0.15 + 0.1 * n, 0.9)
    await expect(writer.locator(".board")).to_have_attribute("data-queued", "3")
    await writer_context.set_offline(False)
    await expect(writer.locator(".board")).to_have_attribute("data-queued", "0", timeout=20_000)
    # Chromium logs the reconnection attempts made while offline: expected here.
    writer_visit = next(v for v in people.visits if v.page is writer)
    writer_visit.problems[:] = [
        problem for problem in writer_visit.problems if "ERR_INTERNET_DISCONNECTED" not in problem
    ]
    await expect(writer.locator(".board")).to_have_attribute("data-version", "5")
    await expect(panel.locator(".board")).to_have_attribute("data-version", "5")

    # Every stroke exactly once on the server.
    room = await load_room(services.db, lesson_id, me["school"]["id"] if "school" in me else 1)
    doc = await services.boards.document(room.lesson, services.clock())
    mine = [item for item in doc.pages[0].visible() if item.author == me["id"]]
    assert len(mine) == 3
    async with services.db.session() as session:
        stored = await session.scalar(
            select(func.count()).select_from(BoardOp).where(BoardOp.author_id == me["id"])
        )
    assert stored == 3

    # A late joiner sees the whole board.
    late = await people.tab("student-5a-03")
    await join_from_today(late, lesson_id)
    await expect(late.locator(".board")).to_have_attribute("data-version", "5", timeout=10_000)
    await until_inked(late, blank[students["student"]] + 400)
    await people.close()
