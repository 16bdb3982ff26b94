"""A load worker process: runs its share of virtual students on one event loop and obeys
the controller's commands (start, chat, arm the kill, send after the kill, leave, collect,
stop)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import resource
import time
from collections import Counter
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from typing import Any

from bench.storm.plan import (
    AFTER_KILL_SENDER_RANK,
    CHAT_SENDER_RANK,
    Arrival,
    ClientTuning,
    Target,
)
from bench.storm.student import Student, first_address
from bench.storm.tally import Tally

PROGRESS_EVERY = 0.5


class LoadWorker:
    def __init__(
        self,
        index: int,
        arrivals: list[Arrival],
        target: Target,
        source: str,
        tuning: ClientTuning,
        commands: Connection,
        reports: Queue[Any],
    ) -> None:
        self.index = index
        self.arrivals = arrivals
        self.tally = Tally()
        self.students = [
            Student(a.seat, target, first_address(source, n), self.tally, tuning)
            for n, a in enumerate(arrivals)
        ]
        self._commands = commands
        self._reports = reports
        self._tasks: set[asyncio.Task[Any]] = set()
        self._arrivals_done = False
        self._after_sent_rooms: list[int] = []
        self._stop = asyncio.Event()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def report(self, kind: str, body: Any) -> None:
        self._reports.put((kind, self.index, body))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        loop.add_reader(self._commands.fileno(), lambda: inbox.put_nowait(self._commands.recv()))
        ticker = asyncio.create_task(self._tick())
        self.report("ready", {})
        try:
            while not self._stop.is_set():
                command, args = await inbox.get()
                await self._obey(command, args)
        finally:
            loop.remove_reader(self._commands.fileno())
            ticker.cancel()
            for student in self.students:
                student.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _obey(self, command: str, args: dict[str, Any]) -> None:
        if command == "start":
            self._spawn(self._arrive(float(args["at"])))
        elif command == "chat":
            self._spawn(self._chat(int(args["rounds"]), float(args["interval"])))
        elif command == "arm_kill":
            for student in self.students:
                student.kill_armed = True
        elif command == "after_kill":
            self._after_kill()
        elif command == "leave":
            self._leave(float(args["spread"]), float(args["timeout"]))
        elif command == "collect":
            self.report("collected", self._collect())
        elif command == "stop":
            self._stop.set()

    async def _tick(self) -> None:
        while True:
            body = self.tally.progress()
            body["arrivals_done"] = int(self._arrivals_done)
            self.report("progress", body)
            await asyncio.sleep(PROGRESS_EVERY)

    async def _arrive(self, started_at: float) -> None:
        """Launch each student at its scheduled time, whatever the others are doing."""
        for student, arrival in zip(self.students, self.arrivals, strict=True):
            delay = started_at + arrival.at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(student.arrive(arrival, started_at))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while not all(s.joined for s in self.students):
            settled = sum(1 for s in self.students if s.joined)
            if settled + sum(self.tally.failed.values()) >= len(self.students):
                break
            await asyncio.sleep(0.05)
        # Between phases nothing is being timed: collect what the arrivals left, and keep
        # the held sockets out of later collections.
        gc.collect()
        gc.freeze()
        self._arrivals_done = True

    async def _chat(self, rounds: int, interval: float) -> None:
        senders = [s for s in self.students if s.joined and s.seat.rank == CHAT_SENDER_RANK]

        async def send(student: Student, number: int) -> None:
            await asyncio.sleep(random.uniform(0, interval / 2))
            if await student.send_chat(f"c{number}", f"chat-{number}"):
                self.tally.chat_sent += 1

        for number in range(rounds):
            for student in senders:
                self._spawn(send(student, number))
            await asyncio.sleep(interval)

    def _after_kill(self) -> None:
        async def send(student: Student) -> None:
            try:
                if await student.send_chat("after", "after-kill"):
                    self.tally.after_sent += 1
                    self._after_sent_rooms.append(student.seat.lesson_id)
            finally:
                self.tally.after_done += 1

        for student in self.students:
            if student.joined and student.seat.rank == AFTER_KILL_SENDER_RANK:
                self._spawn(send(student))

    def _leave(self, spread: float, timeout: float) -> None:
        """The lesson is over: every connected student leaves at a moment of ``spread``."""

        async def leave(student: Student) -> None:
            try:
                await asyncio.sleep(random.uniform(0, spread))
                if not await student.leave(timeout):
                    self.tally.gone_before_leaving += 1
            finally:
                self.tally.left += 1

        for student in self.students:
            if student.joined and student.ready.is_set():
                self.tally.leaving += 1
                self._spawn(leave(student))
            else:
                student.stopping = True  # still coming back after a drop: no longer

    def _joined_rooms(self, rank: int) -> list[int]:
        return [s.seat.lesson_id for s in self.students if s.joined and s.seat.rank == rank]

    def _collect(self) -> dict[str, Any]:
        rooms: Counter[int] = Counter()
        missing_after: Counter[int] = Counter()
        connected = 0
        for student in self.students:
            if not student.joined:
                continue
            rooms[student.seat.lesson_id] += 1
            if student.ready.is_set():
                connected += 1
                if not student.got_after:
                    missing_after[student.seat.lesson_id] += 1
        usage = resource.getrusage(resource.RUSAGE_SELF)
        t = self.tally
        return {
            "joined": t.joined,
            "failed": dict(t.failed),
            "join_samples": t.join_samples,
            "rooms": dict(rooms),
            "connected": connected,
            "missing_after": dict(missing_after),
            "chat_rooms": self._joined_rooms(CHAT_SENDER_RANK),
            "after_rooms": self._joined_rooms(AFTER_KILL_SENDER_RANK),
            "after_sent_rooms": self._after_sent_rooms,
            "deliveries": t.deliveries,
            "delivery_ms": t.delivery_ms,
            "chat_sent": t.chat_sent,
            "chat_failed": dict(t.chat_failed),
            "duplicated": t.duplicated,
            "wire_repeats": t.wire_repeats,
            "reloads": t.reloads,
            "drops_before_kill": t.drops_before_kill,
            "dropped": t.dropped,
            "resumed": t.resumed,
            "reconnect_errors": dict(t.reconnect_errors),
            "join_waits": t.join_waits,
            "rejoin_waits": t.rejoin_waits,
            "last_back_at": t.last_back_at,
            "after_sent": t.after_sent,
            "after_received": t.after_received,
            "leaving": t.leaving,
            "left": t.left,
            "gone_before_leaving": t.gone_before_leaving,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
        }


def worker_main(
    index: int,
    arrivals: list[Arrival],
    target: Target,
    source: str,
    tuning: ClientTuning,
    commands: Connection,
    reports: Queue[Any],
) -> None:
    """Entry point of a load worker process."""
    # A collection pauses every timer of the process: with thousands of sockets held a full
    # one took 0.3-0.5 s and showed up as join latency. Collect only between phases.
    gc.disable()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    worker = LoadWorker(index, arrivals, target, source, tuning, commands, reports)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(worker.run())
