"""The board in a recording's timeline: the board as it was when recording began (also when
the board's snapshot was folded forward after that), and the effects made while it ran."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from classroom.boards.document import (
    Actor,
    AddOp,
    Effect,
    EraseOp,
    Item,
    Op,
    PageAddOp,
    Standing,
    UndoOp,
)
from classroom.boards.store import Boards
from classroom.demo import add_lesson
from classroom.rooms import load_room
from classroom.storage.database import Database
from recordings import store
from tests.conftest import demo_principal


def stroke(key: str) -> Item:
    return Item(id=key, tool="line", color="#112233", width=4, points=[10, 10, 200, 200])


@pytest.mark.parametrize("compact_every", [1000, 2])
async def test_the_board_at_the_start_and_its_effects_during_the_recording(
    db: Database, compact_every: int
) -> None:
    now = dt.datetime.now(dt.UTC)
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=5))
    teacher = await demo_principal(db, "teacher")
    student = await demo_principal(db, "student")
    room = await load_room(db, lesson_id, teacher.school_id)
    boards = Boards(db, compact_every=compact_every)
    actor = Actor(teacher.person_id, Standing.TEACHER)
    offsets = itertools.count(100)

    async def publish(_effect: Effect) -> int:
        return next(offsets)

    async def op(seconds: float, operation: Op, page: int = 0) -> None:
        at = now + dt.timedelta(seconds=seconds)
        await boards.apply(
            room.lesson, actor, page, operation, client_id=None, now=at, publish=publish
        )

    await op(-30, AddOp(stroke("a")))
    await op(-20, AddOp(stroke("b")))
    await op(-10, EraseOp(["a"]))
    await op(-5, PageAddOp())
    view, _ = await store.begin(db, teacher, room, now=now)
    await op(3, AddOp(stroke("c")))
    await op(6, UndoOp())
    await op(7, AddOp(stroke("p2")), page=1)
    await store.finish(db, view.id, now=now + dt.timedelta(seconds=10), size=1, duration=10)
    await op(15, AddOp(stroke("d")))
    await op(16, PageAddOp())

    timeline = await store.timeline(db, student, view.id)
    assert timeline.board is not None
    assert timeline.board.version == 4
    pages = timeline.board.pages
    assert [[item.id for item in page.items] for page in pages] == [["a", "b"], []]
    assert [page.hidden for page in pages] == [["a"], []]
    board_items = [item for item in timeline.items if item.kind == "board"]
    assert [(round(item.at), item.operation) for item in board_items] == [
        (3, "add"),
        (6, "undo"),
        (7, "add"),
    ]
    effects = [item.effect for item in board_items]
    assert all(effect is not None and effect.client_id is None for effect in effects)
    assert [effect.seq for effect in effects if effect] == [5, 6, 7]
    undo = effects[1]
    assert undo is not None and undo.hide == ["c"]


async def test_a_lesson_without_a_board_has_none_in_the_timeline(db: Database) -> None:
    now = dt.datetime.now(dt.UTC)
    lesson_id = await add_lesson(db, starts_at=now - dt.timedelta(minutes=5))
    teacher = await demo_principal(db, "teacher")
    room = await load_room(db, lesson_id, teacher.school_id)
    view, _ = await store.begin(db, teacher, room, now=now)
    timeline = await store.timeline(db, teacher, view.id)
    assert timeline.board is None
    assert [item for item in timeline.items if item.kind == "board"] == []
