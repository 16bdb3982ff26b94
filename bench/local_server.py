"""A urok server for a bench, on a free loopback port: a scratch data folder (SQLite unless a
database is given), the in-process bus and the seeded demo school."""

from __future__ import annotations

import dataclasses
import secrets
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web

from classroom.demo import DEMO_PASSWORD
from web.app import create_app
from web.listen import start_site
from web.settings import Settings, load_settings


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a scratch server; the bench adds the lessons it uses."""
    base = load_settings({"UROK_DATA_DIR": str(data_dir), "UROK_SECRET_KEY": secrets.token_hex(32)})
    overrides.setdefault("demo_lesson_now", False)
    overrides.setdefault("gc_freeze", False)
    return dataclasses.replace(base, **overrides)


async def start(settings: Settings) -> tuple[str, web.AppRunner]:
    """Serve ``settings`` on 127.0.0.1; the URL and the runner to clean up."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    port = free_port()
    await start_site(runner, "127.0.0.1", port)
    return f"http://127.0.0.1:{port}", runner


async def login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    """A demo person's access token."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/api/login", json={"username": username, "password": password}
        ) as response,
    ):
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"login of {username} refused: {body}")
        return str(body["token"])


async def join_link(base_url: str, token: str, lesson_id: int) -> str | None:
    """The person's join link of the lesson, from their timetable (None for the teacher)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base_url}/api/timetable", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        body = await response.json()
    for lesson in body.get("lessons", []):
        if lesson["id"] == lesson_id:
            values = parse_qs(urlsplit(lesson.get("join_url") or "").query).get("link")
            return values[0] if values else None
    raise RuntimeError(f"lesson {lesson_id} is not in the timetable")
