"""Interop with the official socket.io-client (npm) and socket.io-msgpack-parser in Node."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

from classroom.demo import DEMO_PASSWORD
from tests.clients import LiveClient, enter, lesson_now, seat
from tests.conftest import LiveServer
from web.services import SERVICES_KEY

SCRIPT = Path(__file__).with_name("socketio_client.mjs")


async def test_node_client_signs_in_joins_chats_and_is_refused_with_a_forged_token(
    live_server: LiveServer,
) -> None:
    lesson = await lesson_now(live_server.app[SERVICES_KEY].db)
    teacher = LiveClient()
    place = await seat(live_server.url, "teacher", lesson)
    await teacher.connect(live_server.url, place.token)
    assert (await enter(teacher, place))["ok"], "the teacher starts the lesson"
    node = shutil.which("node")
    assert node is not None, "Node.js is required (./dev test installs it)"
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        live_server.url,
        "student",
        DEMO_PASSWORD,
        str(lesson),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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
