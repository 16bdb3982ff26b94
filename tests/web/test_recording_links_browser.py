"""Recordings where people look for them, in a real Chromium: a student marked absent has the
diary open when the recording ends and is offered it at the top, opens it and sees the board
and the chat in step with the video, seeking forward and back; the parent is offered the same
for the child (and the access is audited); the teacher finds the recording on the lesson in
the journal; the pages fit a phone; another class's student and another child's parent are
refused with reasons."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from bench.clip import make_clip
from classroom import chat, rooms
from classroom.attendance_marks import Mark, MarkSource, set_mark
from classroom.boards.document import Actor, AddOp, Effect, EraseOp, Item, Op, PageAddOp, Standing
from classroom.boards.store import Boards
from classroom.demo import add_lesson
from classroom.rooms import RoomState, load_room
from classroom.storage.models import AuditEntry
from recordings import store
from recordings.webm import WebmWriter
from tests.browser import accessibility_violations
from tests.clients import get_json, login
from tests.conftest import LiveServer, ServerFactory, demo_principal
from tests.web.test_diary_library_pages import PHONE
from tests.web.test_lesson_pages import QUICK, People
from web.services import SERVICES_KEY

SECONDS = 8
BEFORE = "Было до записи"
DURING = "x² + 1 = 10"
SECOND_PAGE = "Вторая страница"
MESSAGE = "Смотрите на доску"


def write_clip(path: Path, seconds: int) -> None:
    """A WebM file of ``seconds`` of VP8 and Opus, as the recorder writes them."""
    clip = make_clip(seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = WebmWriter(path)
    for index, frame in enumerate(clip.video):
        writer.write("video", frame.data, index * 1000 // 30, keyframe=frame.keyframe)
    for index, frame in enumerate(clip.audio):
        writer.write("audio", frame.data, index * 20, keyframe=True)
    writer.close()


def text_item(key: str, text: str, y: int) -> Item:
    return Item(id=key, tool="text", color="#1f2937", width=12, points=[200, y], text=text)


class Recorded:
    """A lesson going on, the student "student" marked absent, and a recording under way
    with a message and board operations in it (the board had a text before it began)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.services = server.app[SERVICES_KEY]
        self.lesson_id = 0
        self.recording_id = 0
        self.started = dt.datetime.now(dt.UTC)

    async def begin(self) -> None:
        db = self.services.db
        now = dt.datetime.now(dt.UTC)
        self.lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=10))
        teacher = await demo_principal(db, "teacher")
        student = await demo_principal(db, "student")
        room = await load_room(db, self.lesson_id, teacher.school_id)
        async with db.session() as session:
            await set_mark(
                session,
                lesson_id=self.lesson_id,
                student_id=student.person_id,
                mark=Mark.ABSENT,
                source=MarkSource.TEACHER,
                now=now,
            )
            await session.commit()
        self.started = now - dt.timedelta(seconds=SECONDS + 5)
        at = self.started
        offsets = itertools.count(1)

        async def board_published(_effect: Effect) -> int:
            return next(offsets)

        async def chat_published(_view: chat.MessageView) -> tuple[int, bool]:
            return next(offsets), True

        boards = Boards(db)
        actor = Actor(teacher.person_id, Standing.TEACHER)

        async def draw(seconds: float, op: Op, page: int = 0) -> None:
            await boards.apply(
                room.lesson,
                actor,
                page,
                op,
                client_id=None,
                now=at + dt.timedelta(seconds=seconds),
                publish=board_published,
            )

        await draw(-60, AddOp(text_item("before", BEFORE, 300)))
        view, relative = await store.begin(db, teacher, room, now=at)
        self.recording_id = view.id
        write_clip(self.services.settings.data_dir / relative, SECONDS)
        await chat.post(
            db,
            room,
            await rooms.author_of(db, teacher.person_id),
            teacher,
            MESSAGE,
            state=RoomState.LIVE,
            to_id=None,
            client_id=None,
            now=at + dt.timedelta(seconds=2),
            publish=chat_published,
        )
        await draw(3, AddOp(text_item("during", DURING, 600)))
        await draw(5, EraseOp(["before"]))
        await draw(7, PageAddOp())
        await draw(7.5, AddOp(text_item("second", SECOND_PAGE, 300)), page=1)

    async def finish(self) -> None:
        path = self.services.settings.data_dir / store.file_name(self.lesson_id, self.started)
        await store.finish(
            self.services.db,
            self.recording_id,
            now=self.started + dt.timedelta(seconds=SECONDS),
            size=path.stat().st_size,
            duration=float(SECONDS),
            events=self.services.events,
        )


async def seek(page: Page, seconds: float) -> None:
    await page.locator("#recording-video").evaluate(
        "(v, s) => { v.muted = true; v.currentTime = s; }", seconds
    )


async def test_an_absent_student_is_offered_the_recording_and_watches_it(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server = await custom_server(**QUICK)
    recorded = Recorded(server)
    await recorded.begin()
    people = People(browser, server)
    try:
        student = await people.tab("student", bypass_csp=True)
        await student.goto(f"{server.url}/diary")
        lesson = student.locator(f'li.diary-lesson[data-lesson-id="{recorded.lesson_id}"]')
        await expect(lesson).to_be_visible()
        await expect(lesson.locator("a.recording-link")).to_have_count(0)
        await expect(student.locator("#missed")).to_be_hidden()

        # The teacher stops recording: the diary offers it at once, at the top.
        await recorded.finish()
        missed = student.locator("#missed")
        await expect(missed).to_be_visible()
        await expect(missed.get_by_role("heading")).to_have_text(
            "Вы пропустили урок — посмотрите запись"
        )
        await expect(missed).to_contain_text("Математика")
        await expect(missed).to_contain_text("отсутствовал(а)")
        await expect(student.locator("#week-announce")).to_have_text(
            "Готова запись пропущенного урока."
        )
        await expect(lesson.locator("a.recording-link")).to_have_count(1)
        assert await accessibility_violations(student) == []

        await missed.get_by_role("link", name="Запись урока").click()
        await student.wait_for_url(f"**/recording/{recorded.recording_id}")
        await student.wait_for_function(
            "() => document.getElementById('recording-video').readyState >= 1", timeout=20000
        )
        board = student.locator("#recording-board")
        await expect(board.get_by_role("heading", name="Доска")).to_be_visible()
        described = student.locator("#recording-board-description")
        message = student.locator("#recording-chat li", has_text=MESSAGE)
        await expect(described).to_contain_text(BEFORE)
        await expect(described).not_to_contain_text(DURING)
        await expect(message).to_be_hidden()
        canvas = student.locator("#recording-board-canvas")
        at_start = await canvas.evaluate("(c) => c.toDataURL()")

        await seek(student, 6)  # past the message, the new text and the erasing
        await expect(message).to_be_visible()
        await expect(described).to_contain_text(DURING)
        await expect(described).not_to_contain_text(BEFORE)
        assert await canvas.evaluate("(c) => c.toDataURL()") != at_start

        await seek(student, 4)  # back: the text is there, the erasing not yet
        await expect(described).to_contain_text(DURING)
        await expect(described).to_contain_text(BEFORE)
        await seek(student, 1)  # back before all of it
        await expect(message).to_be_hidden()
        await expect(described).not_to_contain_text(DURING)
        await expect(described).to_contain_text(BEFORE)
        assert await canvas.evaluate("(c) => c.toDataURL()") == at_start

        # A message's time seeks the video there; playing on to the end follows the board
        # to the page added last; the viewer turns back to the first page.
        await seek(student, 2.5)
        await student.get_by_role("button", name="Перейти к 0:02").click()
        assert 1.9 <= await student.locator("#recording-video").evaluate("(v) => v.currentTime") < 3
        await student.locator("#recording-video").evaluate("(v) => v.play()")
        await expect(board).to_have_attribute("data-applied", "4", timeout=15000)
        page_number = student.locator("#recording-board-page")
        await expect(page_number).to_have_text("Страница 2 из 2")
        await expect(described).to_contain_text(SECOND_PAGE)
        await board.get_by_role("button", name="Предыдущая страница").click()
        await expect(page_number).to_have_text("Страница 1 из 2")
        await expect(described).to_contain_text(DURING)
        await expect(described).not_to_contain_text(BEFORE)
        assert await accessibility_violations(student) == []
        await seek(student, 1)  # seeking follows the drawing again: one page then
        await expect(page_number).to_have_text("Страница 1 из 1")
        await expect(described).to_contain_text(BEFORE)

        # The parent is offered the same for the child; opening it is audited.
        parent = await people.tab("parent", viewport=PHONE, bypass_csp=True)
        await parent.goto(f"{server.url}/diary")
        child = (await get_json(server.url, "/api/me", await login(server.url, "student")))[
            "display_name"
        ]
        offered = parent.locator("#missed")
        await expect(offered.get_by_role("heading")).to_have_text(
            f"{child} пропустил(а) урок — посмотрите запись"
        )
        await parent.get_by_role("button", name="English").click()  # and in English
        await expect(offered.get_by_role("heading")).to_have_text(
            f"{child} missed a lesson — watch the recording"
        )
        await offered.get_by_role("link", name="Lesson recording").click()
        await parent.wait_for_url(f"**/recording/{recorded.recording_id}")
        await expect(parent.get_by_role("heading", name="Board")).to_be_visible()
        await expect(parent.locator("#recording-board-description")).to_have_text(
            f"1 items on the page. Texts: {BEFORE}."
        )
        await expect(parent.locator("#recording-title")).to_contain_text("Lesson recording: ")
        await parent.get_by_role("button", name="Русский").click()
        await expect(parent.locator("#recording-board-page")).to_have_text("Страница 1 из 1")
        await expect(parent.locator("#recording-title")).to_contain_text("Запись урока: ")
        await expect(parent.locator("#recording-board-description")).to_contain_text(
            f"Надписи: {BEFORE}."
        )
        await expect(parent.locator("#recording-board-canvas")).to_be_visible()
        width = await parent.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways: {width} px"
        async with recorded.services.db.session() as session:
            actions = (await session.scalars(select(AuditEntry.action))).all()
        assert "recording_listed" in actions

        # The teacher finds it on the lesson in the journal.
        teacher = await people.tab("teacher", bypass_csp=True)
        await teacher.goto(f"{server.url}/journal")
        await teacher.get_by_label("Класс и предмет").select_option(label="5А · Математика")
        column = teacher.locator(f'table.journal-grid th[data-lesson-id="{recorded.lesson_id}"]')
        link = column.get_by_role("link", name="Запись урока")
        await expect(link).to_have_attribute("href", f"/recording/{recorded.recording_id}")
        assert await accessibility_violations(teacher) == []
        await link.click()
        await teacher.wait_for_url(f"**/recording/{recorded.recording_id}")
        await expect(teacher.locator("#recording-chat li", has_text=MESSAGE)).to_have_count(1)
    finally:
        await people.close()


async def test_another_class_and_another_childs_parent_are_refused(
    custom_server: ServerFactory, browser: Browser
) -> None:
    server = await custom_server(**QUICK)
    recorded = Recorded(server)
    await recorded.begin()
    await recorded.finish()
    people = People(browser, server)
    try:
        for username, reason in (
            ("student-6b-01", "Эта запись — урок другого класса."),
            ("parent-6b-02", "Эта запись — урок класса, где нет ваших детей."),
        ):
            page = await people.tab(username, bypass_csp=True)
            people.visits[-1].expected_statuses.add(403)
            await page.goto(f"{server.url}/diary")
            await expect(page.locator("#week")).to_be_visible()
            await expect(page.locator("#missed")).to_be_hidden()
            await expect(page.locator("a.recording-link")).to_have_count(0)
            await page.goto(f"{server.url}/recording/{recorded.recording_id}")
            await expect(page.locator("#recording-status")).to_have_text(reason)
            await expect(page.locator("#recording-board")).to_be_hidden()
            await expect(page.locator("#recording-chat li")).to_have_count(0)
    finally:
        await people.close()
