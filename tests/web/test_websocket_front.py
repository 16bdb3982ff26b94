"""Both ways of serving WebSockets (``UROK_WEBSOCKET_FRONT``) carry a live lesson the same."""

from __future__ import annotations

import pytest

from tests.clients import LiveClient
from tests.conftest import ServerFactory
from tests.web.test_live_lessons import QUICK, a_lesson
from web.services import SERVICES_KEY


@pytest.mark.parametrize("front", ["door", "aiohttp"])
async def test_a_lesson_runs_through_either_front(
    front: str, custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(websocket_front=front, **QUICK)
    lesson = await a_lesson(server, clients)
    teacher, _ = await lesson.entered("teacher")
    student, joined = await lesson.entered("student")
    assert joined["room"]["status"]["state"] == "live"
    reply = await student.call("chat.send", {"lesson_id": lesson.id, "text": "Здравствуйте"})
    assert reply["ok"], reply
    (message,) = await teacher.wait_for("chat.message")
    assert message["data"]["text"] == "Здравствуйте"
    realtime = server.app[SERVICES_KEY].realtime
    assert realtime.sio.eio.open_websockets == 2
    kept = [sorted(environ) for environ in realtime.sio.environ.values()]
    # The door keeps no request per connection; aiohttp's handler keeps its request.
    assert kept == ([[], []] if front == "door" else [["aiohttp.request"]] * 2)
