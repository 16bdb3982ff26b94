"""The sign-in and "today" pages in a real Chromium, used the way a person would."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from classroom.demo import DEMO_PASSWORD
from tests.browser import AXE, Visit, accessibility_violations, sign_in
from tests.clients import get_json, login
from tests.conftest import LiveServer


async def test_the_teacher_signs_in_and_sees_todays_lessons(
    live_server: LiveServer, visit: Visit
) -> None:
    page = visit.page
    await sign_in(page, live_server, "teacher")
    await page.wait_for_url("**/today")
    expected = await get_json(
        live_server.url, "/api/timetable", await login(live_server.url, "teacher")
    )
    rows = page.locator("ol.lessons > li")
    await expect(rows).to_have_count(len(expected["lessons"]))
    assert len(expected["lessons"]) > 0
    await expect(rows.first).to_contain_text("Математика")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Анна Сергеевна Орлова")
    await expect(page.locator("#live-text")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#live-text")).to_have_text("На связи")


async def test_a_wrong_password_is_announced_and_keeps_the_sign_in_page(
    live_server: LiveServer, visit: Visit
) -> None:
    page = visit.page
    visit.expected_statuses.add(401)
    await sign_in(page, live_server, "teacher", "not-the-password")
    await expect(page.get_by_role("alert")).to_have_text("Неверный логин или пароль.")
    assert page.url.rstrip("/") == live_server.url
    await expect(page.get_by_label("Пароль")).to_be_focused()


async def test_the_parent_sees_each_child_separately(live_server: LiveServer, visit: Visit) -> None:
    page = visit.page
    await sign_in(page, live_server, "parent")
    sections = page.locator("section.child")
    await expect(sections).to_have_count(2)
    await expect(sections.nth(0).get_by_role("heading")).to_contain_text("5А")
    await expect(sections.nth(1).get_by_role("heading")).to_contain_text("6Б")
    for index in range(2):
        await expect(sections.nth(index).locator("li.lesson")).to_have_count(5)
    await expect(sections.nth(1).locator("li.lesson").first).to_contain_text("Класс: 6Б")


async def test_the_language_switches_both_ways_and_is_remembered(
    live_server: LiveServer, visit: Visit
) -> None:
    page = visit.page
    await sign_in(page, live_server, "student")
    await page.wait_for_url("**/today")
    assert await page.get_attribute("html", "lang") == "ru"
    await expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    await page.get_by_role("button", name="English").click()
    assert await page.get_attribute("html", "lang") == "en"
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await expect(page.locator("#where")).to_contain_text("Student, 5А")
    await page.reload()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "en"
    await page.get_by_role("button", name="Русский").click()
    await expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    assert await page.get_attribute("html", "lang") == "ru"


async def test_the_browser_language_picks_english(
    live_server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert await page.get_attribute("html", "lang") == "en"
    await context.close()


async def test_signing_in_by_keyboard_only(live_server: LiveServer, visit: Visit) -> None:
    page = visit.page
    await page.goto(f"{live_server.url}/")
    await expect(page.get_by_label("Логин")).to_be_focused()
    await page.keyboard.type("student")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Пароль")).to_be_focused()
    await page.keyboard.type(DEMO_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/today")
    await expect(page.locator("ol.lessons > li")).to_have_count(5)
    await page.keyboard.press("Tab")
    await expect(page.locator(".skip")).to_be_focused()


async def test_pages_fit_a_phone_and_a_panel_waits_for_pairing(
    live_server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await page.goto(f"{live_server.url}/")
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= 360
    await sign_in(page, live_server, "parent")
    await expect(page.locator("section.child")).to_have_count(2)
    assert await page.evaluate("document.scrollingElement.scrollWidth") <= 360
    await page.get_by_role("button", name="Выйти").click()
    await page.wait_for_url(f"{live_server.url}/")
    await context.close()

    panel = await browser.new_context(locale="ru-RU", viewport={"width": 1920, "height": 1080})
    page = await panel.new_page()
    await sign_in(page, live_server, "panel")
    await page.wait_for_url("**/panel")
    await expect(page.get_by_role("heading", name="Подключите панель к уроку")).to_be_visible()
    await expect(page.locator("#qr svg")).to_be_visible()
    height = await page.get_by_role("button", name="Выйти").evaluate(
        "b => b.getBoundingClientRect().height"
    )
    assert height >= 44
    await panel.close()


async def test_a_forged_token_sends_the_person_back_to_sign_in(
    live_server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context(locale="ru-RU")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/")
    await page.evaluate("sessionStorage.setItem('urok.token', 'forged.token.value')")
    await page.goto(f"{live_server.url}/today")
    await page.wait_for_url(f"{live_server.url}/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Вход")
    assert await page.evaluate("sessionStorage.getItem('urok.token')") is None
    await context.close()


@pytest.mark.parametrize(
    ("username", "locale", "width"),
    [
        (None, "ru-RU", 1280),
        ("teacher", "ru-RU", 1280),
        ("parent", "en-US", 360),
        ("student", "ru-RU", 360),
        ("panel", "ru-RU", 1920),
    ],
)
async def test_pages_pass_an_accessibility_audit(
    live_server: LiveServer, browser: Browser, username: str | None, locale: str, width: int
) -> None:
    assert AXE.exists(), "axe-core comes from npm (./dev test installs it)"
    # The page's CSP refuses injected scripts; the audit script is the test's, not the page's.
    context = await browser.new_context(
        locale=locale, viewport={"width": width, "height": 900}, bypass_csp=True
    )
    page = await context.new_page()
    if username is None:
        await page.goto(f"{live_server.url}/")
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
    else:
        await page.goto(f"{live_server.url}/")
        await page.locator("#username").fill(username)
        await page.locator("#password").fill(DEMO_PASSWORD)
        await page.locator("form button[type=submit]").click()
        await page.wait_for_url("**/panel" if username == "panel" else "**/today")
        if username == "panel":
            await expect(page.locator("#qr svg")).to_be_visible()
        await expect(page.locator("#live-text")).to_have_attribute("data-state", "connected")
    assert await accessibility_violations(page) == []
    await context.close()
