"""``urok bench board``: stroke latency from a panel to 30 students over real Socket.IO
connections on loopback, and a soak of many operations in one lesson through the store."""

from __future__ import annotations

import asyncio
import json
import os
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


def _serve(folder: str, database_url: str, ready: Any) -> None:
    """The server of the fan-out run, in a process of its own (so its CPU is its own)."""
    from bench import local_server

    async def serve() -> None:
        overrides: dict[str, Any] = {"login_burst": 10_000}
        if database_url:
            overrides["database_url"] = database_url
        settings = local_server.bench_settings(Path(folder), **overrides)
        url, runner = await local_server.start(settings)
        ready.send((url, settings.database_url))
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(serve())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _fill_class(db: Any, class_name: str, size: int) -> None:
    """Enrol demo students into ``class_name`` until it has ``size`` (same password)."""
    from sqlalchemy import func, select

    from classroom.storage.models import Enrolment, Person, SchoolClass

    async with db.session() as session:
        school_class = await session.scalar(
            select(SchoolClass).where(SchoolClass.name == class_name)
        )
        assert school_class is not None
        have = int(
            await session.scalar(
                select(func.count())
                .select_from(Enrolment)
                .where(Enrolment.class_id == school_class.id)
            )
            or 0
        )
        model = await session.scalar(select(Person).where(Person.username == "student"))
        assert model is not None
        for number in range(have + 1, size + 1):
            person = Person(
                school_id=model.school_id,
                username=f"bench-student-{number:02d}",
                password_hash=model.password_hash,
                display_name=f"Ученик {number}",
                role=model.role,
                active=True,
            )
            session.add(person)
            await session.flush()
            session.add(Enrolment(student_id=person.id, class_id=school_class.id))
        await session.commit()


async def fan_out(students: int, strokes: int, database_url: str = "") -> dict[str, Any]:
    """A paired panel's strokes (``board.op``) timed until each student's client has them.

    The server runs in a child process; the clients (panel, teacher, students) run here."""
    import datetime as dt
    import multiprocessing

    import socketio
    from sqlalchemy import select

    from bench.local_server import join_link, login
    from classroom.storage.database import Database
    from classroom.storage.models import Enrolment, Person, SchoolClass

    with tempfile.TemporaryDirectory() as folder:
        context = multiprocessing.get_context("spawn")
        receiving, sending = context.Pipe(duplex=False)
        child = context.Process(target=_serve, args=(folder, database_url, sending), daemon=True)
        child.start()
        loop = asyncio.get_running_loop()
        url, db_url = await loop.run_in_executor(None, receiving.recv)
        db = Database(db_url)
        clients: list[Any] = []
        try:
            await _fill_class(db, "5А", students)
            lesson = await add_lesson(
                db, starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            )
            async with db.session() as session:
                names = list(
                    await session.scalars(
                        select(Person.username)
                        .join(Enrolment, Enrolment.student_id == Person.id)
                        .join(SchoolClass, SchoolClass.id == Enrolment.class_id)
                        .where(SchoolClass.name == "5А")
                        .order_by(Person.id)
                        .limit(students)
                    )
                )

            async def connected(token: str) -> Any:
                client = socketio.AsyncClient(serializer="msgpack", reconnection=False)
                await client.connect(url, auth={"token": token}, transports=["websocket"])
                clients.append(client)
                return client

            # The teacher opens the lesson and pairs the panel by its code.
            teacher_token = await login(url, "teacher")
            teacher = await connected(teacher_token)
            assert (await teacher.call("room.join", {"lesson_id": lesson}))["ok"]
            panel_token = await login(url, "panel")
            import aiohttp

            async with aiohttp.ClientSession() as http:
                async with http.post(
                    f"{url}/api/panel/pairing", headers={"Authorization": f"Bearer {panel_token}"}
                ) as response:
                    code = (await response.json())["code"]
                async with http.post(
                    f"{url}/api/panel/pair",
                    json={"code": code},
                    headers={"Authorization": f"Bearer {teacher_token}"},
                ) as response:
                    paired = await response.json()
                    assert paired["lesson"]["id"] == lesson, paired
            panel = await connected(panel_token)
            assert (await panel.call("room.join", {"lesson_id": lesson}))["ok"]
            assert (await panel.call("board.join", {"lesson_id": lesson}))["ok"]

            arrivals: dict[str, list[float]] = {}

            async def on_op(frame: Any) -> None:
                item = frame["data"].get("item")
                if item:
                    arrivals.setdefault(item["id"], []).append(time.perf_counter())

            for name in names:
                token = await login(url, name)
                link = await join_link(url, token, lesson)
                client = await connected(token)
                client.on("board.op", on_op)
                joined = await client.call("room.join", {"lesson_id": lesson, "link": link})
                assert joined["ok"], joined
                assert (await client.call("board.join", {"lesson_id": lesson}))["ok"]
            await asyncio.sleep(0.5)
            cpu_before = _cpu_seconds(child.pid or 0)
            sent: dict[str, float] = {}
            acks: list[float] = []
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
                reply = await panel.call(
                    "board.op", {"lesson_id": lesson, "page": 0, "op": op, "client_id": item_id}
                )
                assert reply["ok"], reply
                acks.append((time.perf_counter() - sent[item_id]) * 1000)
                if n % 50 == 49:
                    await panel.call(
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
            server_cpu = _cpu_seconds(child.pid or 0) - cpu_before
            latencies = [
                (at - sent[item_id]) * 1000 for item_id, times in arrivals.items() for at in times
            ]
            complete = sum(1 for times in arrivals.values() if len(times) == len(names))
            deliveries = sum(len(times) for times in arrivals.values())
            return {
                "students": len(names),
                "strokes": strokes,
                "all_delivered": complete == strokes,
                "deliveries": deliveries,
                "server_cpu_s": round(server_cpu, 3),
                "server_cpu_ms_per_stroke": round(server_cpu * 1000 / max(1, strokes), 3),
                "ack": _summary(acks),
                **_summary(latencies),
            }
        finally:
            for client in clients:
                await client.disconnect()
            await db.close()
            child.terminate()
            child.join(10)


async def soak(operations: int, database_url: str, writers: int = 8) -> dict[str, Any]:
    """Many operations in one lesson through ``Boards`` (database and snapshots included),
    sent by ``writers`` concurrent senders as a busy lesson does (teacher, panel, students
    with the pen), each waiting for its reply before the next operation."""
    import datetime as dt

    from classroom.boards.document import PageAddOp
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

    for n in range(2):
        await boards.apply(
            room.lesson,
            actor,
            0,
            PageAddOp(),
            client_id=f"p{n}",
            now=dt.datetime.now(dt.UTC),
            publish=publish,
        )
    timings: list[float] = []
    tenth = max(1, operations // 10)
    cpu_marks: dict[int, float] = {}
    counter = iter(range(operations))

    async def writer() -> None:
        for n in counter:
            if n % 400 == 399:
                op: Any = ClearOp()
            else:
                points = [v for k in range(30) for v in (100 + k * 30, 200 + (n % 50) * 30, 60)]
                op = AddOp(Item(id=f"s{n}", tool="pen", color="#123456", width=4, points=points))
            started = time.perf_counter()
            await boards.apply(
                room.lesson,
                actor,
                n % 3,
                op,
                client_id=f"k{n}",
                now=dt.datetime.now(dt.UTC),
                publish=publish,
            )
            timings.append((time.perf_counter() - started) * 1000)
            done = len(timings)
            if done in (tenth, operations - tenth) or done == operations:
                cpu_marks[done] = time.process_time()

    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    first, last = _summary(timings[:tenth]), _summary(timings[-tenth:])
    async with db.session() as session:
        from sqlalchemy import select

        from classroom.storage.models import Board as BoardRow
        from classroom.storage.models import BoardSnapshot

        row = (
            await session.execute(
                select(BoardRow.version, BoardSnapshot.version)
                .join(BoardSnapshot, BoardSnapshot.board_id == BoardRow.id)
                .where(BoardRow.lesson_id == lesson_id)
            )
        ).one()
    await db.close()
    first_cpu = (cpu_marks[tenth] - cpu_start) * 1000 / tenth
    last_cpu = (cpu_marks[operations] - cpu_marks[operations - tenth]) * 1000 / tenth
    return {
        "database": database_url.split(":", 1)[0],
        "operations": operations,
        "writers": writers,
        "board_version": row[0],
        "snapshot_version": row[1],
        "wall_s": round(wall, 1),
        "operations_per_s": round(operations / wall),
        "cpu_ms_per_operation": round(cpu * 1000 / operations, 3),
        "first_10pct_cpu_ms_per_operation": round(first_cpu, 3),
        "last_10pct_cpu_ms_per_operation": round(last_cpu, 3),
        "first_10pct": first,
        "last_10pct": last,
        "last_over_first_p99": round(last["p99_ms"] / first["p99_ms"], 3)
        if first["p99_ms"]
        else None,
    }


def main(
    students: int,
    strokes: int,
    operations: int,
    out: Path | None,
    *,
    writers: int = 8,
    database_url: str = "",
    parts: str = "fan-out,soak",
) -> int:
    """Run the chosen parts and print (and optionally write) the figures as JSON."""

    async def run() -> dict[str, Any]:
        results: dict[str, Any] = {}
        if "fan-out" in parts:
            results["fan_out"] = await fan_out(students, strokes, database_url)
        if "soak" in parts:
            with tempfile.TemporaryDirectory() as folder:
                url = database_url or f"sqlite+aiosqlite:///{folder}/soak.db"
                results["soak"] = await soak(operations, url, writers)
        return results

    results = asyncio.run(run())
    text = json.dumps(results, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    return 0
