"""Test clients that talk to a real server the way a person's browser would."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import aiohttp
import socketio

from classroom.demo import DEMO_PASSWORD


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
