"""``urok bench board``: stroke latency from a panel to 30 students over real Socket.IO
connections on loopback, and a soak of many operations in one lesson through the store."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from classroom.boards.document import Actor, AddOp, ClearOp, Item, Standing
from classroom.boards.store import Boards
from classroom.demo import add_lesson
from classroom.rooms import load_room


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _summary(values_ms: list[float]) -> dict[str, float]:
    return {
        "count": len(values_ms),
        "p50_ms": round(_percentile(values_ms, 0.5), 3),
        "p99_ms": round(_percentile(values_ms, 0.99), 3),
        "mean_ms": round(statistics.fmean(values_ms), 3) if values_ms else 0.0,
    }


async def fan_out(students: int, strokes: int) -> dict[str, Any]:
    """A panel's strokes (``board.op``) timed until each student's client has them."""
    import importlib

    import socketio

    # The test suite's helpers: a server on loopback and a student's way into the lesson.
    seat = importlib.import_module("tests.clients").seat
    fixtures = importlib.import_module("tests.conftest")
    make_settings, start_server = fixtures.make_settings, fixtures.start_server

    with tempfile.TemporaryDirectory() as folder:
        server, runner = await start_server(make_settings(Path(folder), login_burst=10_000))
        from web.services import SERVICES_KEY

        db = server.app[SERVICES_KEY].db
        now = time.time()
        import datetime as dt

        lesson = await add_lesson(
            db, starts_at=dt.datetime.fromtimestamp(now, dt.UTC) - dt.timedelta(minutes=1)
        )
        arrivals: dict[str, list[float]] = {}
        clients = []
        try:
            teacher_seat = await seat(server.url, "teacher", lesson)
            teacher = socketio.AsyncClient(serializer="msgpack", reconnection=False)
            await teacher.connect(
                server.url, auth={"token": teacher_seat.token}, transports=["websocket"]
            )
            clients.append(teacher)
            assert (await teacher.call("room.join", {"lesson_id": lesson}))["ok"]
            assert (await teacher.call("board.join", {"lesson_id": lesson}))["ok"]
            names = ["student"] + [f"student-5a-{n:02d}" for n in range(2, students + 1)]
            for name in names[: min(students, 25)]:  # the demo class has 25 students
                place = await seat(server.url, name, lesson)
                client = socketio.AsyncClient(serializer="msgpack", reconnection=False)

                async def on_op(frame: Any) -> None:
                    item = frame["data"].get("item")
                    if item:
                        arrivals.setdefault(item["id"], []).append(time.perf_counter())

                client.on("board.op", on_op)
                await client.connect(
                    server.url, auth={"token": place.token}, transports=["websocket"]
                )
                clients.append(client)
                assert (await client.call("room.join", {"lesson_id": lesson, "link": place.link}))[
                    "ok"
                ]
                assert (await client.call("board.join", {"lesson_id": lesson}))["ok"]
            sent: dict[str, float] = {}
            for n in range(strokes):
                item_id = f"b{n}"
                points = [v for k in range(60) for v in (100 + k * 20, 300 + (k % 7) * 10, 50)]
                op = {
                    "kind": "add",
                    "item": {
                        "id": item_id,
                        "tool": "pen",
                        "color": "#000000",
                        "width": 4,
                        "points": points,
                    },
                }
                sent[item_id] = time.perf_counter()
                reply = await teacher.call(
                    "board.op", {"lesson_id": lesson, "page": 0, "op": op, "client_id": item_id}
                )
                assert reply["ok"], reply
                if n % 50 == 49:
                    await teacher.call(
                        "board.op",
                        {
                            "lesson_id": lesson,
                            "page": 0,
                            "op": {"kind": "clear"},
                            "client_id": f"c{n}",
                        },
                    )
                await asyncio.sleep(0.03)
            await asyncio.sleep(0.5)
            latencies = [
                (at - sent[item_id]) * 1000 for item_id, times in arrivals.items() for at in times
            ]
            students = min(students, 25)
            complete = sum(1 for times in arrivals.values() if len(times) == students)
            return {
                "students": students,
                "strokes": strokes,
                "all_delivered": complete == strokes,
                **_summary(latencies),
            }
        finally:
            for client in clients:
                await client.disconnect()
            await runner.cleanup()


async def soak(operations: int, database_url: str) -> dict[str, Any]:
    """Many operations in one lesson through ``Boards`` (database and snapshots included)."""
    import datetime as dt

    from classroom.demo import seed_demo_school
    from classroom.storage.database import Database

    db = Database(database_url)
    await db.migrate()
    await seed_demo_school(db)
    lesson_id = await add_lesson(db, starts_at=dt.datetime.now(dt.UTC))
    room = await load_room(db, lesson_id, 1)
    boards = Boards(db)
    actor = Actor(room.lesson.teacher_id, Standing.TEACHER)
    offsets = iter(range(1, 10**9))

    async def publish(_effect: Any) -> int:
        return next(offsets)

    timings: list[float] = []
    cpu_start = time.process_time()
    for n in range(operations):
        if n % 400 == 399:
            op: Any = ClearOp()
        else:
            points = [v for k in range(30) for v in (100 + k * 30, 200 + (n % 50) * 30, 60)]
            op = AddOp(Item(id=f"s{n}", tool="pen", color="#123456", width=4, points=points))
        started = time.perf_counter()
        await boards.apply(
            room.lesson,
            actor,
            n % 3 if n > 3 else 0,
            op,
            client_id=f"k{n}",
            now=dt.datetime.now(dt.UTC),
            publish=publish,
        )
        timings.append((time.perf_counter() - started) * 1000)
        if n == 2:
            from classroom.boards.document import PageAddOp

            await boards.apply(
                room.lesson,
                actor,
                0,
                PageAddOp(),
                client_id="p1",
                now=dt.datetime.now(dt.UTC),
                publish=publish,
            )
            await boards.apply(
                room.lesson,
                actor,
                0,
                PageAddOp(),
                client_id="p2",
                now=dt.datetime.now(dt.UTC),
                publish=publish,
            )
    cpu = time.process_time() - cpu_start
    tenth = max(1, operations // 10)
    first, last = _summary(timings[:tenth]), _summary(timings[-tenth:])
    await db.close()
    return {
        "operations": operations,
        "cpu_ms_per_operation": round(cpu * 1000 / operations, 3),
        "first_10pct": first,
        "last_10pct": last,
        "last_over_first_p99": round(last["p99_ms"] / first["p99_ms"], 3)
        if first["p99_ms"]
        else None,
    }


def main(students: int, strokes: int, operations: int, out: Path | None) -> int:
    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as folder:
            return {
                "fan_out": await fan_out(students, strokes),
                "soak": await soak(operations, f"sqlite+aiosqlite:///{folder}/soak.db"),
            }

    results = asyncio.run(run())
    text = json.dumps(results, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    return 0
