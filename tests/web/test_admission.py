"""Admission control of room entries: a bounded number at once, refusals when the wait is
too long or the queue is full."""

from __future__ import annotations

import asyncio

import pytest

from classroom.errors import Overloaded
from web.admission import Admission


async def test_at_most_so_many_run_and_a_long_wait_is_refused() -> None:
    admission = Admission(concurrency=2, max_wait=0.2, max_waiting=10)
    release = asyncio.Event()
    running = 0
    most = 0

    async def work() -> None:
        nonlocal running, most
        async with admission.slot():
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1

    holders = [asyncio.create_task(work()) for _ in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded) as refused:
        async with admission.slot():
            pass
    assert 0.1 <= refused.value.retry_after <= 0.3
    assert refused.value.code == "overloaded"
    release.set()
    await asyncio.gather(*holders)
    assert most == 2
    async with admission.slot():  # the slots came back
        pass
    assert admission.refused == 1 and admission.waiting == 0


async def test_a_waiting_entry_gets_the_next_free_slot() -> None:
    admission = Admission(concurrency=1, max_wait=2.0, max_waiting=10)
    order: list[str] = []

    async def work(name: str, hold: float) -> None:
        async with admission.slot():
            order.append(name)
            await asyncio.sleep(hold)

    await asyncio.gather(work("first", 0.1), work("second", 0))
    assert order == ["first", "second"]


async def test_a_full_queue_refuses_at_once() -> None:
    admission = Admission(concurrency=1, max_wait=5.0, max_waiting=0)
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Overloaded):
        async with admission.slot():
            pass
    assert asyncio.get_running_loop().time() - started < 1.0, "no wait when the queue is full"
    release.set()
    await holder
