"""A group writer with a linger: the first item after a quiet spell is written at once,
items that follow closely wait for company and are written together, and an item whose
batch fails gets the error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from classroom.batches import GroupWriter

LINGER = 0.3


class Recorder:
    """Stands for the database: records each batch and when it was written."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.written_at: list[float] = []

    async def write(self, items: Sequence[str]) -> list[str | BaseException]:
        self.batches.append(list(items))
        self.written_at.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0)
        return [ValueError(item) if item.startswith("bad") else item.upper() for item in items]


async def test_items_that_follow_closely_are_written_together() -> None:
    recorder = Recorder()
    writer: GroupWriter[str, str] = GroupWriter(recorder.write, linger=LINGER)
    loop = asyncio.get_running_loop()

    started = loop.time()
    assert await writer.submit("first") == "FIRST"
    assert recorder.written_at[0] - started < LINGER / 2, "a lone item does not wait"

    async def later(item: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return await writer.submit(item)

    results = await asyncio.gather(
        later("a", 0.0), later("b", LINGER / 6), later("c", LINGER / 3), return_exceptions=True
    )
    assert list(results) == ["A", "B", "C"]
    assert recorder.batches == [["first"], ["a", "b", "c"]]
    assert recorder.written_at[1] - recorder.written_at[0] >= LINGER * 0.9

    await asyncio.sleep(LINGER * 1.5)  # quiet again
    before = loop.time()
    assert await writer.submit("alone") == "ALONE"
    assert recorder.written_at[2] - before < LINGER / 2
    await writer.close()


async def test_an_item_whose_write_failed_gets_its_error() -> None:
    recorder = Recorder()
    writer: GroupWriter[str, str] = GroupWriter(recorder.write, linger=LINGER)
    good, bad = await asyncio.gather(
        writer.submit("good"), writer.submit("bad one"), return_exceptions=True
    )
    assert good == "GOOD"
    assert isinstance(bad, ValueError)
    assert recorder.batches == [["good", "bad one"]]


async def test_a_full_batch_does_not_wait() -> None:
    recorder = Recorder()
    writer: GroupWriter[str, str] = GroupWriter(recorder.write, linger=LINGER, max_batch=2)
    await writer.submit("warm")  # the next batch would linger
    loop = asyncio.get_running_loop()
    before = loop.time()
    results = await asyncio.gather(*(writer.submit(f"{n}") for n in range(4)))
    assert results == ["0", "1", "2", "3"]
    assert recorder.batches[1:] == [["0", "1"], ["2", "3"]]
    assert recorder.written_at[1] - before < LINGER / 2, "a full batch goes at once"
    with pytest.raises(ValueError):
        await writer.submit("bad")


async def test_a_linger_ends_once_enough_items_wait() -> None:
    recorder = Recorder()
    writer: GroupWriter[str, str] = GroupWriter(recorder.write, linger=LINGER, enough=3)
    await writer.submit("warm")
    loop = asyncio.get_running_loop()
    before = loop.time()

    async def later(item: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return await writer.submit(item)

    results = await asyncio.gather(later("a", 0.0), later("b", 0.0), later("c", LINGER / 6))
    assert list(results) == ["A", "B", "C"]
    assert recorder.batches[1:] == [["a", "b", "c"]]
    waited = recorder.written_at[1] - before
    assert LINGER / 6 <= waited < LINGER * 0.8, "written when the third came, not at the linger"
