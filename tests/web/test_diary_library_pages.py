"""The diary's side sections and the library in a real Chromium: a parent's trusted person
reads the child's diary until revoked, the calendar address serves the timetable, a teacher's
PDF is published by the admin and found by a student, and the journal fits a phone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, ViewportSize, expect

from classroom.demo import add_lesson
from tests.browser import accessibility_violations, sign_in
from tests.clients import get_json, login
from tests.conftest import ServerFactory
from tests.web.test_lesson_pages import People
from web.services import SERVICES_KEY

PHONE: ViewportSize = {"width": 375, "height": 740}


def tiny_pdf() -> bytes:
    """A valid one-page PDF, with its cross-reference table worked out."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def unfolded(ics: str) -> list[str]:
    """RFC 5545 content lines, continuation lines joined back."""
    assert "\r\n" in ics, "lines end in CRLF"
    return ics.replace("\r\n ", "").split("\r\n")


def events_of(lines: list[str]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None and ":" in line:
            name, value = line.split(":", 1)
            current[name.split(";", 1)[0]] = value
    return found


async def test_a_trusted_person_reads_the_diary_until_revoked(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server = await custom_server(login_burst=1000)
    lesson_id = await add_lesson(
        server.app[SERVICES_KEY].db, starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    children = (await get_json(server.url, "/api/me", await login(server.url, "parent")))[
        "children"
    ]
    people = People(browser, server)
    parent = await people.tab("parent", bypass_csp=True)
    await parent.goto(f"{server.url}/diary")
    form = parent.locator("#trusted-form")
    await form.get_by_label("Имя").fill("Бабушка Нина")
    await form.get_by_label("Логин для входа").fill("babushka-nina")
    await form.get_by_label("Пароль (не короче 10 знаков)").fill("pirozhki-2026")
    await form.get_by_label("Ребёнок").select_option(label=children[0]["display_name"])
    await form.get_by_role("button", name="Добавить доверенное лицо").click()
    await expect(parent.locator("#trusted-done")).to_contain_text("Бабушка Нина")
    await expect(parent.locator("li.trusted-person")).to_have_count(1)
    assert await accessibility_violations(parent) == []

    # The grandparent signs in in a browser of her own and reads the child's week only.
    context = await browser.new_context(locale="ru-RU", viewport=PHONE, bypass_csp=True)
    granny = await context.new_page()
    problems: list[str] = []
    granny.on("pageerror", lambda error: problems.append(str(error)))
    await sign_in(granny, server, "babushka-nina", "pirozhki-2026")
    await granny.wait_for_url("**/today")
    await granny.goto(f"{server.url}/diary")
    await expect(granny.locator("#week")).to_be_visible()
    await expect(granny.locator(f'li.diary-lesson[data-lesson-id="{lesson_id}"]')).to_be_visible()
    await expect(granny.locator("#week-students button")).to_have_count(0)
    await expect(granny.locator("#week-students")).to_have_text(children[0]["display_name"])
    await expect(granny.locator("#absence")).to_be_hidden()
    await expect(granny.locator("#absence-form")).to_be_hidden()
    await expect(granny.locator("#trusted")).to_be_hidden()
    await expect(granny.locator("#trusted-form")).to_be_hidden()
    assert await granny.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert await accessibility_violations(granny) == []

    # The parent revokes; the grandparent's next load is refused and says why.
    await parent.locator("li.trusted-person").get_by_role("button", name="Отозвать доступ").click()
    await expect(parent.locator("li.trusted-person")).to_have_count(0)
    await expect(parent.locator("#trusted-done")).to_contain_text("Бабушка Нина")
    await granny.reload()
    await expect(granny.get_by_role("alert")).to_contain_text("доступ", ignore_case=True)
    await expect(granny.locator(f'li.diary-lesson[data-lesson-id="{lesson_id}"]')).to_have_count(0)
    await context.close()
    assert problems == []
    await people.close()


async def test_the_calendar_address_serves_the_timetable(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server = await custom_server(login_burst=1000)
    lesson_id = await add_lesson(
        server.app[SERVICES_KEY].db, starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    people = People(browser, server)
    pupil = await people.tab("student", viewport=PHONE, bypass_csp=True)
    await pupil.goto(f"{server.url}/diary")
    await pupil.get_by_role("button", name="Получить адрес календаря").click()
    address = pupil.locator("#feed-url")
    await expect(address).to_contain_text(".ics")
    url = (await address.text_content() or "").strip()
    assert url.startswith(server.url + "/api/calendar/"), url
    assert await pupil.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert await accessibility_violations(pupil) == []

    async with aiohttp.ClientSession() as http, http.get(url) as reply:
        assert reply.status == 200
        assert reply.content_type == "text/calendar"
        ics = await reply.text()
    lines = unfolded(ics)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    online = [e for e in events_of(lines) if e["UID"].startswith(f"lesson-{lesson_id}-")]
    assert len(online) == 1, ics
    assert online[0]["URL"].startswith(server.url + "/"), online[0]
    assert online[0]["URL"] in online[0]["DESCRIPTION"].replace("\\n", "\n")
    for name in ("DTSTART", "DTEND", "SUMMARY"):
        assert name in online[0]

    # Revoking closes the address.
    await pupil.get_by_role("button", name="Отозвать адрес").click()
    await expect(address).to_be_empty()
    async with aiohttp.ClientSession() as http, http.get(url) as reply:
        assert reply.status == 404
    await people.close()


async def test_a_teachers_pdf_is_published_and_found_by_a_student(
    custom_server: ServerFactory, browser: Browser, tmp_path: Path
) -> None:
    server = await custom_server(login_burst=1000)
    pdf = tmp_path / "drobi.pdf"
    pdf.write_bytes(tiny_pdf())
    people = People(browser, server)

    teacher = await people.tab("teacher", bypass_csp=True)
    await teacher.goto(f"{server.url}/library")
    add = teacher.locator("#add-form")
    await add.get_by_label("Вид").select_option("file")
    await add.get_by_label("Название").fill("Таблица десятичных дробей")
    await add.get_by_label("Предмет").fill("Математика")
    await add.get_by_label("Класс (1–11)").fill("5")
    await add.get_by_label("Тема").fill("Десятичные дроби")
    await add.get_by_label("Файл: PDF, PNG, JPEG, текст или MP4, до 5 МБ").set_input_files(str(pdf))
    await add.get_by_role("button", name="Сохранить черновик").click()
    await expect(teacher.locator("#add-done")).not_to_be_empty()
    assert await accessibility_violations(teacher) == []

    # A draft is not found by a student.
    pupil = await people.tab("student", viewport=PHONE, bypass_csp=True)
    await pupil.goto(f"{server.url}/library")
    await pupil.get_by_label("Что найти").fill("десятичн")
    await pupil.get_by_role("button", name="Найти").click()
    await expect(pupil.locator("#results-count")).not_to_be_empty()
    await expect(pupil.locator("li.library-item")).to_have_count(0)

    admin = await people.tab("admin", bypass_csp=True)
    await admin.goto(f"{server.url}/library")
    await admin.get_by_label("Что найти").fill("десятичн")
    await admin.get_by_role("button", name="Найти").click()
    await expect(admin.locator("li.library-item")).to_have_count(1)
    await admin.locator("li.library-item").get_by_role("button", name="Опубликовать").click()
    await expect(admin.locator("li.library-item")).to_contain_text("опубликован", ignore_case=True)
    assert await accessibility_violations(admin) == []

    await pupil.get_by_role("button", name="Найти").click()
    found = pupil.locator("li.library-item")
    await expect(found).to_have_count(1)
    await expect(found).to_contain_text("Таблица десятичных дробей")
    assert await pupil.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    assert await accessibility_violations(pupil) == []

    token = await login(server.url, "student")
    page = await get_json(server.url, "/api/library/materials?q=десятичн", token)
    material = page["materials"][0]
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.url}/api/library/materials/{material['id']}/file",
            headers={"Authorization": f"Bearer {token}"},
        ) as reply,
    ):
        assert reply.status == 200
        assert (await reply.read()) == tiny_pdf()
    await people.close()


async def test_the_journal_fits_a_phone_and_passes_the_audit(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server = await custom_server(login_burst=1000)
    lesson_id = await add_lesson(
        server.app[SERVICES_KEY].db, starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    )
    people = People(browser, server)
    teacher = await people.tab("teacher", viewport=PHONE, bypass_csp=True)
    await teacher.goto(f"{server.url}/journal")
    await teacher.get_by_label("Класс и предмет").select_option(label="5А · Математика")
    await expect(teacher.locator("table.journal-grid tbody tr")).to_have_count(25)
    await teacher.get_by_label("Урок", exact=True).select_option(value=str(lesson_id))
    width = await teacher.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width} px"
    assert await accessibility_violations(teacher) == []
    await people.close()
