"""A database of the bench's own: a fresh PostgreSQL database (dropped at the end) or a
SQLite file in a temporary folder."""

from __future__ import annotations

import secrets
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres(admin_url: str = DEFAULT_POSTGRES) -> str:
    """Create ``urok_bench_<random>`` next to the admin database; return its URL."""
    name = f"urok_bench_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(_dsn(admin_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url: str = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url


async def drop_postgres(url: str, admin_url: str = DEFAULT_POSTGRES) -> None:
    name = make_url(url).database
    if not name or not name.startswith("urok_bench_"):
        raise ValueError("refusing to drop a database the bench did not create")
    connection = await asyncpg.connect(_dsn(admin_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{(folder / 'storm.db').resolve()}"
