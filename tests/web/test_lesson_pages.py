"""The lesson pages in a real Chromium: the teacher's console, the students' lesson page and
the parent's diary, used the way people would."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, Page, expect

from classroom.demo import add_lesson
from tests.browser import AXE, Visit, accessibility_violations, sign_in
from tests.clients import get_json, login
from tests.conftest import LiveServer, ServerFactory
from tests.gateway import SECRET, Gateway
from tests.school_day import start_on_school_today, waits_out_midnight
from web.services import SERVICES_KEY

STUDENTS = ("student", "student-5a-02", "student-5a-03")
ABSENT = "student-5a-04"
ITS_PARENT = "parent-5a-04"
# Short delays, so that the story takes seconds; many people sign in from one address.
QUICK = {
    "absence_after": 2.0,
    "reconnect_grace": 6.0,
    "sweep_interval": 0.3,
    "login_burst": 1000,
    "webhook_secret": SECRET,
}


class People:
    """Each person's own browser, signed in; any script error in any of them fails the test."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.browser = browser
        self.server = server
        self.visits: list[Visit] = []

    async def tab(self, username: str, **options: Any) -> Page:
        """A new browser of the person, signed in and on the "today" page."""
        options.setdefault("locale", "ru-RU")
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = await self.browser.new_context(**options)
        visit = Visit(context, await context.new_page())
        self.visits.append(visit)
        await sign_in(visit.page, self.server, username)
        await visit.page.wait_for_url("**/today")
        return visit.page

    async def close(self) -> None:
        for visit in self.visits:
            await visit.context.close()
        problems = [problem for visit in self.visits for problem in visit.problems]
        assert problems == [], problems


async def join_from_today(page: Page, lesson_id: int) -> None:
    """A student follows the link in their timetable and lands in the lesson."""
    await page.locator(f'li[data-lesson-id="{lesson_id}"] a.join').click()
    await page.wait_for_url(f"**/lesson/{lesson_id}")
    assert "link=" not in page.url, "the link leaves the address bar once taken"


async def send_chat(page: Page, text: str) -> None:
    await page.get_by_label("Сообщение").fill(text)
    await page.get_by_role("button", name="Отправить", exact=True).click()


@waits_out_midnight
async def test_a_lesson_from_start_to_report(
    custom_server: ServerFactory, browser: Browser, gateway: tuple[Gateway, str]
) -> None:
    receiver, webhook_url = gateway
    receiver.accepting = True
    server = await custom_server(webhook_url=webhook_url, **QUICK)
    starts_at = await start_on_school_today(dt.timedelta(seconds=20))
    lesson_id = await add_lesson(server.app[SERVICES_KEY].db, starts_at=starts_at)

    # The absent student's parent has the diary open before the lesson.
    people = People(browser, server)
    parent = await people.tab(ITS_PARENT)
    await parent.get_by_role("link", name="Дневник: уведомления и отсутствие").click()
    await parent.wait_for_url("**/diary")
    await expect(parent.locator("#live-text")).to_have_attribute("data-state", "connected")
    await expect(parent.locator("section.child .none")).to_have_text("Уведомлений нет.")

    # The teacher starts the lesson from the timetable.
    teacher = await people.tab("teacher")
    sockets: list[str] = []
    teacher.on("websocket", lambda socket: sockets.append(socket.url))
    await (
        teacher.locator(f'li[data-lesson-id="{lesson_id}"]')
        .get_by_role("button", name="Начать урок")
        .click()
    )
    await teacher.wait_for_url(f"**/lesson/{lesson_id}")
    await expect(teacher.locator("#state-text")).to_have_text("Урок идёт. Вы ведёте урок.")
    # The lesson page names its lesson in the socket's address, for a balancer.
    named = [parse_qs(urlsplit(url).query).get("lesson") for url in sockets]
    assert [str(lesson_id)] in named
    await expect(teacher.locator("#people > li")).to_have_count(25)
    await expect(teacher.locator("#people-summary")).to_have_text("На уроке 0 из 25")

    # Three students join from the links in their timetables.
    students: dict[str, Page] = {}
    for username in STUDENTS:
        page = await people.tab(username)
        await join_from_today(page, lesson_id)
        await expect(page.locator("#state-text")).to_have_text("Урок идёт.")
        students[username] = page
    await expect(teacher.locator("#people-summary")).to_have_text("На уроке 3 из 25")

    # Chat goes both ways.
    await send_chat(teacher, "Откройте учебник на странице 42")
    for page in students.values():
        await expect(page.locator("#messages")).to_contain_text("Откройте учебник на странице 42")
    await send_chat(students["student-5a-02"], "Открыл, готов")
    await expect(teacher.locator("#messages")).to_contain_text("Открыл, готов")
    await expect(students["student"].locator("#messages")).to_contain_text("Открыл, готов")

    # A hand goes up and the teacher sees it.
    await students["student-5a-03"].get_by_role("button", name="Поднять руку").click()
    await expect(teacher.locator("#hands > li")).to_have_count(1)

    # The fourth student never comes: the parent's open diary tells of it, and the webhook.
    absent = await get_json(server.url, "/api/me", await login(server.url, ABSENT))
    notice = parent.locator("li.diary-notice.kind-absent")
    await expect(notice).to_have_count(1, timeout=60_000)
    await expect(notice).to_contain_text(f"{absent['display_name']} отсутствует на уроке")
    await expect(parent.locator("#announce")).to_contain_text("отсутствует на уроке")

    async def webhook_about_absent() -> dict[str, Any]:
        for _ in range(100):
            for body in receiver.bodies.values():
                student = body.get("student")
                if isinstance(student, dict) and student.get("id") == absent["id"]:
                    return body
            await asyncio.sleep(0.1)
        raise AssertionError("the webhook never told of the absent student")

    body = await webhook_about_absent()
    assert body["kind"] == "absent"
    assert receiver.bad_signatures == 0
    await expect(
        teacher.locator(f'#people li[data-person-id="{absent["id"]}"] .status')
    ).to_have_text("Не пришёл(а)")

    # One student drops and comes back inside the grace period: one stay, not two.
    dropping = students["student"]
    await dropping.goto("about:blank")
    await asyncio.sleep(1.0)
    await dropping.goto(f"{server.url}/lesson/{lesson_id}")
    await expect(dropping.locator("#state-text")).to_have_text("Урок идёт.")
    await expect(dropping.locator("#messages")).to_contain_text("Открыл, готов")
    me = await get_json(server.url, "/api/me", await login(server.url, "student"))
    await teacher.get_by_role("button", name="Отчёт о посещаемости").click()
    row = teacher.locator(f'#report-table tr[data-person-id="{me["id"]}"]')
    await expect(row.locator(".stays")).to_have_text("1")
    await expect(row.locator(".status")).to_have_text("Присутствует")

    # The teacher ends the lesson; the students are told.
    await teacher.get_by_role("button", name="Закончить урок").click()
    await teacher.get_by_role("dialog").get_by_role("button", name="Закончить урок").click()
    await expect(teacher.locator("#state-text")).to_have_text(
        "Урок закончился. Отчёт о посещаемости остаётся доступен."
    )
    for page in students.values():
        await expect(page.locator("#state-text")).to_have_text("Урок закончился.")
    await asyncio.sleep(0.5)
    assert await dropping.locator("#chat-form").is_hidden()
    await people.close()


@waits_out_midnight
async def test_a_student_on_a_phone_in_english_by_keyboard(
    custom_server: ServerFactory, browser: Browser
) -> None:
    assert AXE.exists(), "axe-core comes from npm (./dev test installs it)"
    server = await custom_server(login_burst=1000)
    starts_at = await start_on_school_today(-dt.timedelta(minutes=1))
    lesson_id = await add_lesson(server.app[SERVICES_KEY].db, starts_at=starts_at)

    # The page's CSP refuses injected scripts; the audit script is the test's, not the page's.
    people = People(browser, server)
    teacher = await people.tab("teacher", bypass_csp=True)
    await teacher.locator(f'li[data-lesson-id="{lesson_id}"] button.start').click()
    await expect(teacher.locator("#people > li")).to_have_count(25)
    assert await accessibility_violations(teacher) == []

    page = await people.tab("student", viewport={"width": 375, "height": 740}, bypass_csp=True)
    await page.locator(f'li[data-lesson-id="{lesson_id}"] a.join').click()
    await expect(page.locator("#state-text")).to_have_text("Урок идёт.")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#state-text")).to_have_text("The lesson is on.")
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert await accessibility_violations(page) == []

    # Keyboard only: to the message field, type, Enter.
    await page.get_by_label("Message").focus()
    await page.keyboard.type("Can you hear me?")
    await page.keyboard.press("Enter")
    await expect(teacher.locator("#messages")).to_contain_text("Can you hear me?")
    await expect(page.get_by_label("Message")).to_be_focused()
    await expect(page.get_by_label("Message")).to_have_value("")

    # A private question to the teacher reaches only the teacher.
    await page.get_by_label("To", exact=True).select_option(
        label="Privately to the teacher (Анна Сергеевна Орлова)"
    )
    await page.get_by_label("Message").fill("Можно выйти?")
    await page.keyboard.press("Enter")
    await expect(teacher.locator("#messages li.private")).to_contain_text("Можно выйти?")

    # Switching to Russian keeps the lesson and names the buttons in Russian.
    await page.get_by_role("button", name="Русский").click()
    await expect(page.get_by_role("button", name="Поднять руку")).to_be_visible()
    await expect(page.locator("#messages")).to_contain_text("Можно выйти?")

    # A parent's diary passes the audit too.
    parent = await people.tab("parent", bypass_csp=True)
    await parent.goto(f"{server.url}/diary")
    await expect(parent.locator("section.child")).to_have_count(2)
    await expect(parent.locator("#live-text")).to_have_attribute("data-state", "connected")
    assert await accessibility_violations(parent) == []
    await people.close()
