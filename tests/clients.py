"""Test clients that talk to a real server the way a person's browser would."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import socketio

from classroom.demo import DEMO_PASSWORD, add_lesson
from classroom.storage.database import Database


async def login(base_url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/api/login", json={"username": username, "password": password}
        ) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
        return str(body["token"])


async def get_json(base_url: str, path: str, token: str) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        body = await response.json()
        assert response.status == 200, body
        return body


class LiveClient:
    """A Socket.IO client (msgpack, WebSocket) that records every event it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(serializer="msgpack", reconnection=False)
        self.received: dict[str, list[Any]] = defaultdict(list)
        self.order: list[str] = []  # event names in the order they arrived
        self._arrived = asyncio.Condition()
        self.connect_errors: list[Any] = []
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)

    async def _refused(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    async def _record(self, event: str, data: Any = None) -> None:
        async with self._arrived:
            self.received[event].append(data)
            self.order.append(event)
            self._arrived.notify_all()

    async def connect(self, base_url: str, token: str | None) -> None:
        auth = {"token": token} if token is not None else {}
        await self.sio.connect(base_url, auth=auth, transports=["websocket"], wait_timeout=5)

    async def call(self, event: str, payload: Any = None, timeout: float = 5) -> Any:
        if payload is None:
            return await self.sio.call(event, timeout=timeout)
        return await self.sio.call(event, payload, timeout=timeout)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 5) -> list[Any]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received[event]) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.received[event]

    async def close(self) -> None:
        await self.sio.disconnect()


async def post_json(base_url: str, path: str, token: str | None, body: Any = None) -> Any:
    """POST and return (status, body) for refusals as well as successes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}{path}", json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@dataclass(frozen=True)
class Seat:
    """A person's way into the lesson going on now: their token and join link."""

    username: str
    token: str
    lesson_id: int
    link: str | None


def link_of(join_url: str) -> str | None:
    values = parse_qs(urlsplit(join_url).query).get("link")
    return values[0] if values else None


async def lesson_now(db: Database, **details: Any) -> int:
    """Add an online lesson of 5А with ``teacher`` that started a minute ago."""
    starts_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return await add_lesson(db, starts_at=starts_at, **details)


async def seat(base_url: str, username: str, lesson_id: int, token: str | None = None) -> Seat:
    """Sign in and take the lesson's join link from the person's timetable."""
    token = token or await login(base_url, username)
    lessons = (await get_json(base_url, "/api/timetable", token))["lessons"]
    for lesson in lessons:
        if lesson["id"] == lesson_id:
            assert lesson.get("join_url"), f"no join link for {username} yet"
            return Seat(username, token, lesson_id, link_of(lesson["join_url"]))
    raise AssertionError(f"lesson {lesson_id} is not in the timetable of {username}")


async def enter(
    client: LiveClient, seat: Seat, since: int | None = None, link: str | None = None
) -> Any:
    """``room.join`` with the seat's link, as the lesson page does."""
    payload: dict[str, Any] = {"lesson_id": seat.lesson_id}
    if link or seat.link:
        payload["link"] = link or seat.link
    if since is not None:
        payload["since"] = since
    return await client.call("room.join", payload)


async def seated_client(
    base_url: str, username: str, lesson_id: int, started: list[LiveClient]
) -> tuple[LiveClient, Seat]:
    """A connected client of a person with their way into the lesson (not yet entered)."""
    place = await seat(base_url, username, lesson_id)
    client = LiveClient()
    started.append(client)
    await client.connect(base_url, place.token)
    return client, place
