"""Interop with the official socket.io-client (npm) and socket.io-msgpack-parser in Node."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from classroom.demo import DEMO_PASSWORD
from tests.clients import LiveClient, enter, lesson_now, login, seat
from tests.conftest import LiveServer, ServerFactory
from web.services import SERVICES_KEY

SCRIPT = Path(__file__).with_name("socketio_client.mjs")
FULL_SERVER_SCRIPT = Path(__file__).with_name("socketio_full_server.mjs")


async def start_node(script: Path, *args: str) -> asyncio.subprocess.Process:
    node = shutil.which("node")
    assert node is not None, "Node.js is required (./dev test installs it)"
    return await asyncio.create_subprocess_exec(
        node, str(script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def test_node_client_signs_in_joins_chats_and_is_refused_with_a_forged_token(
    live_server: LiveServer,
) -> None:
    lesson = await lesson_now(live_server.app[SERVICES_KEY].db)
    teacher = LiveClient()
    place = await seat(live_server.url, "teacher", lesson)
    await teacher.connect(live_server.url, place.token)
    assert (await enter(teacher, place))["ok"], "the teacher starts the lesson"
    process = await start_node(SCRIPT, live_server.url, "student", DEMO_PASSWORD, str(lesson))
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await teacher.close()
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)

    assert result["loginStatus"] == 200
    assert result["connected"] is True
    assert result["join"]["ok"] is True
    assert result["join"]["channel"] == f"room:{place.lesson_id}"
    assert result["join"]["state"] == "live"
    chat = result["chat"]
    assert chat["ok"] is True
    assert chat["received"]["offset"] == chat["offset"]
    assert chat["received"]["data"]["text"] == "Привет из Node 👋"
    assert result["badPayload"]["code"] == "invalid_payload"
    assert result["forged"]["data"]["code"] == "token_invalid"


async def test_node_client_refused_by_a_full_server_comes_in_by_itself_when_there_is_room(
    custom_server: ServerFactory,
) -> None:
    server = await custom_server(max_connections=1)
    holder = LiveClient()
    await holder.connect(server.url, await login(server.url, "student-5a-02"))
    process = await start_node(FULL_SERVER_SCRIPT, server.url, await login(server.url, "student"))
    try:
        assert process.stdout is not None
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=20))
        assert "refused" in first, first
        assert server.app[SERVICES_KEY].realtime.refused_at_ceiling >= 1
        await holder.close()
        second = json.loads(await asyncio.wait_for(process.stdout.readline(), timeout=20))
        assert second == {"connected": True}
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if holder.sio.connected:
            await holder.close()
