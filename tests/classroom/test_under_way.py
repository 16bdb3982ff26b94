"""Work under way by key: a reader waits for what was under way when it asked, under its
key only, and not for work begun after."""

from __future__ import annotations

import asyncio

from classroom.under_way import UnderWay


async def test_a_reader_waits_for_the_work_under_way_under_its_key() -> None:
    under_way = UnderWay()
    release = {key: asyncio.Event() for key in ("first", "other", "later")}
    finished: list[str] = []

    async def work(key: str, lesson: int) -> None:
        with under_way.doing(lesson):
            await release[key].wait()
        finished.append(key)  # runs before a waiting reader goes on

    first = asyncio.create_task(work("first", 1))
    other = asyncio.create_task(work("other", 2))
    await asyncio.sleep(0)
    reader = asyncio.create_task(under_way.done(1))
    await asyncio.sleep(0)
    later = asyncio.create_task(work("later", 1))
    await asyncio.sleep(0.01)
    assert not reader.done()

    release["first"].set()
    await asyncio.wait_for(reader, 1)
    assert finished == ["first"], "not the other lesson's work, nor work begun after"
    assert not later.done() and not other.done()

    release["later"].set()
    release["other"].set()
    await asyncio.gather(later, other, first)
    await asyncio.wait_for(under_way.done(1), 0.1)  # nothing under way: at once


async def test_work_that_fails_still_ends() -> None:
    under_way = UnderWay()

    async def failing() -> None:
        with under_way.doing("key"):
            await asyncio.sleep(0.01)
            raise ConnectionError("the bus is gone")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    await asyncio.wait_for(under_way.done("key"), 1)
    assert task.done() and isinstance(task.exception(), ConnectionError)
