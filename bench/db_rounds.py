"""Micro-benchmarks of a request's database work: a storm's school in a scratch PostgreSQL
database on one pooled connection, and rounds that print the CPU of both sides (this
process, and the backend that served it, from ``/proc``: run them on the database's host)."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text

from bench.storm import procstat, scratch_db
from bench.storm.plan import Seat
from bench.storm.seed import seed_storm
from classroom.storage.database import Database

SECRET = "database-rounds-bench-" + "k" * 32


@asynccontextmanager
async def seeded_school(
    students: int, admin_url: str
) -> AsyncIterator[tuple[Database, list[Seat], int]]:
    """The database, the students' seats and the pid of the one backend serving it; the
    database is dropped afterwards."""
    url = await scratch_db.create_postgres(admin_url)
    db = Database(url, pool_size=1)
    try:
        await db.migrate()
        seats = await seed_storm(
            db, students, secret_key=SECRET, token_ttl=3600, room_overrun=dt.timedelta(minutes=10)
        )
        async with db.reader() as connection:
            backend = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        yield db, seats, backend
    finally:
        await db.close()
        await scratch_db.drop_postgres(url, admin_url)


async def measure_rounds(
    work: Callable[[int], Awaitable[None]],
    *,
    backend: int,
    warm_up: int,
    count: int,
    rounds: int,
    unit: str,
) -> None:
    """Run ``work(warm_up)`` (statements prepared, plans cached), then ``work(count)`` once
    per round, printing each round's CPU per ``unit`` on both sides."""
    await work(warm_up)
    for round_ in range(1, rounds + 1):
        ours, theirs = time.process_time(), procstat.cpu_seconds(backend)
        await work(count)
        ours, theirs = time.process_time() - ours, procstat.cpu_seconds(backend) - theirs
        print(
            f"round {round_}: {1e6 * ours / count:.0f} µs of this process's CPU and "
            f"{1e6 * theirs / count:.0f} µs of PostgreSQL's per {unit}"
        )


def rounds_parser(
    description: str, *, students: int, count: str, count_default: int, count_help: str
) -> argparse.ArgumentParser:
    """The options of every such benchmark: ``--students``, ``--<count>`` per round,
    ``--rounds`` and ``--postgres-url`` (add others before ``checked_options``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--students", type=int, default=students)
    parser.add_argument(f"--{count}", type=int, default=count_default, help=count_help)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=scratch_db.DEFAULT_POSTGRES)
    return parser


def checked_options(parser: argparse.ArgumentParser, count: str) -> argparse.Namespace:
    """The parsed options, the common ones kept within bounds."""
    options = parser.parse_args()
    if not 1 <= options.students <= 100_000:
        parser.error("--students must be between 1 and 100000")
    if not 1 <= getattr(options, count) <= 1_000_000 or not 1 <= options.rounds <= 100:
        parser.error(f"--{count} must be between 1 and 1000000, --rounds between 1 and 100")
    return options
