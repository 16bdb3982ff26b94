"""Board pages exported as SVG and PNG over HTTP, for the lesson's people only."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
from PIL import Image

from tests.clients import LiveClient, enter, lesson_now, login, seat
from tests.conftest import LiveServer
from web.services import SERVICES_KEY

SVG = "{http://www.w3.org/2000/svg}"


async def fetch(url: str, token: str) -> tuple[int, str, bytes]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, response.content_type, await response.read()


def red_pixels(png: bytes) -> tuple[int, tuple[int, int]]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    data = image.tobytes()
    count = sum(
        1 for n in range(0, len(data), 3) if data[n] > 200 and data[n + 1] < 60 and data[n + 2] < 60
    )
    return count, image.size


async def test_a_page_is_exported_as_svg_and_png(live_server: LiveServer) -> None:
    lesson = await lesson_now(live_server.app[SERVICES_KEY].db)
    place = await seat(live_server.url, "teacher", lesson)
    teacher = LiveClient()
    await teacher.connect(live_server.url, place.token)
    try:
        assert (await enter(teacher, place))["ok"]
        assert (await teacher.call("board.join", {"lesson_id": lesson}))["ok"]
        base = f"{live_server.url}/api/lessons/{lesson}/board/pages/0"
        status, kind, empty_png = await fetch(base + ".png", place.token)
        assert (status, kind) == (200, "image/png")
        assert red_pixels(empty_png)[0] == 0

        ops: list[dict[str, Any]] = [
            {"tool": "pen", "points": [v for k in range(20) for v in (200 + 60 * k, 400, 50)]},
            {"tool": "rect", "points": [1000, 1000, 1600, 1400]},
            {"tool": "text", "points": [300, 1500], "text": "x < y & z"},
        ]
        for n, item in enumerate(ops):
            op = {"kind": "add", "item": {"id": f"i{n}", "color": "#ff0000", "width": 6, **item}}
            reply = await teacher.call(
                "board.op", {"lesson_id": lesson, "page": 0, "op": op, "client_id": f"c{n}"}
            )
            assert reply["ok"], reply

        status, kind, body = await fetch(base + ".svg", place.token)
        assert (status, kind) == (200, "image/svg+xml")
        root = ET.fromstring(body)  # well-formed, the text escaped
        assert root.tag == f"{SVG}svg"
        assert root.findtext(f"{SVG}title") == f"Board, lesson {lesson}, page 1"
        assert [t.text for t in root.iter(f"{SVG}text")] == ["x < y & z"]
        assert len(list(root.iter(f"{SVG}rect"))) == 2  # the background and the rectangle
        assert b'stroke="#ff0000"' in body

        status, kind, png = await fetch(base + ".png", place.token)
        assert (status, kind) == (200, "image/png")
        count, size = red_pixels(png)
        assert size == (1600, 900)
        assert count > 1500

        # A student of the class may export; someone of another class may not.
        student = await login(live_server.url, "student")
        assert (await fetch(base + ".svg", student))[0] == 200
        outsider = await login(live_server.url, "student-6b-01")
        assert (await fetch(base + ".svg", outsider))[0] == 403
        assert (await fetch(base + ".png", outsider))[0] == 403
        # A panel not bound to the lesson may not either; a page that does not exist: 404.
        panel = await login(live_server.url, "panel")
        assert (await fetch(base + ".png", panel))[0] == 403
        missing = f"{live_server.url}/api/lessons/{lesson}/board/pages/9.png"
        assert (await fetch(missing, place.token))[0] == 404
    finally:
        await teacher.close()
