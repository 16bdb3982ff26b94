"""The journal, diary week and library pages in a real Chromium: a teacher grades and sets
homework with a library material; the student's and the parent's open diaries show both
without a reload."""

from __future__ import annotations

import datetime as dt

from playwright.async_api import Browser, expect

from classroom.demo import add_lesson
from tests.browser import AXE, accessibility_violations
from tests.clients import get_json, login, post_json
from tests.conftest import ServerFactory
from tests.web.test_lesson_pages import People
from web.services import SERVICES_KEY


async def test_a_grade_and_homework_reach_the_diaries_live(
    custom_server: ServerFactory, browser: Browser
) -> None:
    assert AXE.exists()
    server = await custom_server(login_burst=1000, sweep_interval=0.3)
    starts_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    lesson_id = await add_lesson(server.app[SERVICES_KEY].db, starts_at=starts_at)
    teacher_token = await login(server.url, "teacher")
    status, material = await post_json(
        server.url,
        "/api/library/materials",
        teacher_token,
        {
            "kind": "text",
            "title": "Памятка по дробям",
            "subject": "Математика",
            "grade_level": 5,
            "topic": "Дроби",
            "text": "Числитель сверху, знаменатель снизу.",
        },
    )
    assert status == 200, material
    student = await get_json(server.url, "/api/me", await login(server.url, "student"))

    people = People(browser, server)
    # The student on a phone and the parent on a laptop have their diaries open.
    pupil = await people.tab("student", viewport={"width": 375, "height": 740}, bypass_csp=True)
    await pupil.get_by_role("link", name="Дневник", exact=True).click()
    await pupil.wait_for_url("**/diary")
    await expect(pupil.locator("#live-text")).to_have_attribute("data-state", "connected")
    pupil_lesson = pupil.locator(f'li.diary-lesson[data-lesson-id="{lesson_id}"]')
    await expect(pupil_lesson).to_be_visible()
    parent = await people.tab("parent", bypass_csp=True)
    await parent.goto(f"{server.url}/diary")
    await expect(parent.locator("#live-text")).to_have_attribute("data-state", "connected")
    await expect(parent.locator("#week-students button")).to_have_count(2)
    await expect(parent.locator("#week-students button").first).to_have_attribute(
        "aria-pressed", "true"
    )
    parent_lesson = parent.locator(f'li.diary-lesson[data-lesson-id="{lesson_id}"]')
    await expect(parent_lesson).to_be_visible()

    # The teacher grades with a comment and sets homework with the material.
    teacher = await people.tab("teacher", bypass_csp=True)
    await teacher.get_by_role("link", name="Журнал").click()
    await teacher.wait_for_url("**/journal")
    await teacher.get_by_label("Класс и предмет").select_option(label="5А · Математика")
    await expect(teacher.locator("table.journal-grid tbody tr")).to_have_count(25)
    await teacher.get_by_label("Урок", exact=True).select_option(value=str(lesson_id))
    grade_form = teacher.locator("#grade-form")
    await grade_form.get_by_label("Ученик").select_option(label=student["display_name"])
    await grade_form.get_by_label("Оценка", exact=True).select_option("5")
    await grade_form.get_by_label("Комментарий").fill("Отличная работа с дробями")
    await grade_form.get_by_role("button", name="Поставить оценку").click()
    await expect(teacher.locator("#edit-done")).to_contain_text("Оценка поставлена")
    cell = teacher.locator(
        f'td[data-lesson-id="{lesson_id}"][data-student-id="{student["id"]}"] button.grade'
    )
    await expect(cell).to_have_text("5")

    homework = teacher.locator("#homework-form")
    await homework.get_by_label("Задание").fill("№ 214, 215")
    await homework.get_by_label("Памятка по дробям").check()
    await homework.get_by_role("button", name="Задать").click()
    await expect(teacher.locator("#edit-done")).to_contain_text("Домашнее задание сохранено")
    assert await accessibility_violations(teacher) == []

    # Both diaries show the grade with its comment and the homework with the material.
    for page in (pupil, parent):
        lesson = page.locator(f'li.diary-lesson[data-lesson-id="{lesson_id}"]')
        await expect(lesson.locator(".grade")).to_contain_text("Оценка 5")
        await expect(lesson.locator(".grade")).to_contain_text("Отличная работа с дробями")
        await expect(lesson.locator(".homework")).to_contain_text("№ 214, 215")
        await expect(lesson.locator(".homework")).to_contain_text("Памятка по дробям")
    await expect(pupil.locator("#week-announce")).not_to_be_empty()
    # The parent also gets a notice of the grade.
    await expect(parent.locator("li.diary-notice.kind-grade")).to_have_count(1, timeout=15_000)

    # The student opens the material from the homework, by keyboard.
    opener = pupil_lesson.locator(".homework button")
    await opener.focus()
    await pupil.keyboard.press("Enter")
    await expect(pupil_lesson.locator(".material-text")).to_have_text(
        "Числитель сверху, знаменатель снизу."
    )
    assert await pupil.evaluate("document.scrollingElement.scrollWidth") <= 375
    assert await accessibility_violations(pupil) == []
    assert await accessibility_violations(parent) == []

    # The teacher corrects the grade; the old version is kept, the diary shows the new one.
    await cell.click()
    await grade_form.get_by_label("Оценка", exact=True).select_option("4")
    await grade_form.get_by_label("Причина исправления").fill("Ошибка в задаче 3")
    await grade_form.get_by_role("button", name="Исправить оценку").click()
    await expect(cell).to_have_text("4")
    await expect(pupil_lesson.locator(".grade")).to_contain_text("Оценка 4")

    # The library page finds the material; English works there too.
    await teacher.goto(f"{server.url}/library")
    await teacher.get_by_label("Что найти").fill("дроби")
    await teacher.get_by_role("button", name="Найти").click()
    await expect(teacher.locator("li.library-item")).to_have_count(1)
    await teacher.get_by_role("button", name="English").click()
    await expect(teacher.get_by_role("heading", name="Library", exact=True)).to_be_visible()
    assert await accessibility_violations(teacher) == []
    await people.close()
