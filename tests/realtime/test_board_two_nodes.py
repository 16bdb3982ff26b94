"""The whiteboard across two server processes sharing Redis and the database: a panel and
the teacher on node A, students on node B, one board."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from tests.clients import LiveClient, enter, get_json, login, post_json, seat
from tests.realtime.test_two_nodes import lesson_in, processes, start_node

__all__ = ["processes"]  # the fixture, used by name


def stroke(item_id: str, y: int) -> dict[str, Any]:
    points = [v for k in range(10) for v in (100 + 40 * k, y, 50)]
    item = {"id": item_id, "tool": "pen", "color": "#224466", "width": 4, "points": points}
    return {"kind": "add", "item": item}


async def op(client: LiveClient, lesson: int, body: dict[str, Any], client_id: str) -> Any:
    reply = await client.call(
        "board.op", {"lesson_id": lesson, "page": 0, "op": body, "client_id": client_id}
    )
    assert reply["ok"], reply
    return reply["data"]


async def test_a_panel_on_one_node_and_students_on_another_share_the_board(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    teacher_seat = await seat(node_a.url, "teacher", lesson)
    teacher, panel = LiveClient(), LiveClient()
    students = {"student": LiveClient(), "student-5a-02": LiveClient()}
    started = [teacher, panel, *students.values()]
    try:
        await teacher.connect(node_a.url, teacher_seat.token)
        assert (await enter(teacher, teacher_seat))["ok"]
        assert (await teacher.call("board.join", {"lesson_id": lesson}))["ok"]

        # The panel is paired on node A with the teacher's lesson.
        panel_token = await login(node_a.url, "panel")
        status, pairing = await post_json(node_a.url, "/api/panel/pairing", panel_token)
        assert status == 200, pairing
        status, paired = await post_json(
            node_a.url, "/api/panel/pair", teacher_seat.token, {"code": pairing["code"]}
        )
        assert status == 200 and paired["lesson"]["id"] == lesson, paired
        await panel.connect(node_a.url, panel_token)
        assert (await panel.call("room.join", {"lesson_id": lesson}))["ok"]
        assert (await panel.call("board.join", {"lesson_id": lesson}))["ok"]

        # Students join on node B.
        ids: dict[str, int] = {}
        for name, client in students.items():
            place = await seat(node_b.url, name, lesson)
            ids[name] = (await get_json(node_b.url, "/api/me", place.token))["id"]
            await client.connect(node_b.url, place.token)
            assert (await enter(client, place))["ok"]
            assert (await client.call("board.join", {"lesson_id": lesson}))["ok"]

        # The panel draws on A: both students on B get every stroke, in order.
        for n in range(5):
            assert (await op(panel, lesson, stroke(f"p{n}", 100 + 50 * n), f"p{n}"))["seq"] == n + 1
        # The teacher gives a student on B the pen; that student and the panel draw at once.
        await op(teacher, lesson, {"kind": "grant", "person_id": ids["student"]}, "g")
        writer = students["student"]
        together = await asyncio.gather(
            *(op(writer, lesson, stroke(f"w{n}", 900 + 20 * n), f"w{n}") for n in range(4)),
            *(op(panel, lesson, stroke(f"q{n}", 1300 + 20 * n), f"q{n}") for n in range(4)),
        )
        assert sorted(reply["seq"] for reply in together) == list(range(7, 15))
        # A resend across nodes is answered with the first outcome.
        again = await op(writer, lesson, stroke("w0", 900), "w0")
        assert again["repeated"] and again["seq"] == together[0]["seq"]

        for client in (*students.values(), panel, teacher):
            frames = await client.wait_for("board.op", count=14, timeout=10)
            assert sorted(frame["data"]["seq"] for frame in frames) == list(range(1, 15))

        # A late look from either node shows the same board.
        joined_a = await teacher.call("board.join", {"lesson_id": lesson})
        late = LiveClient()
        started.append(late)
        late_seat = await seat(node_b.url, "student-5a-03", lesson)
        await late.connect(node_b.url, late_seat.token)
        assert (await enter(late, late_seat))["ok"]
        joined_b = await late.call("board.join", {"lesson_id": lesson})
        assert joined_a["data"]["version"] == joined_b["data"]["version"] == 14
        items_a = [item["id"] for item in joined_a["data"]["pages"][0]["items"]]
        items_b = [item["id"] for item in joined_b["data"]["pages"][0]["items"]]
        assert items_a == items_b
        assert sorted(items_a) == sorted(
            [f"p{n}" for n in range(5)] + [f"w{n}" for n in range(4)] + [f"q{n}" for n in range(4)]
        )
    finally:
        for client in started:
            if client.sio.connected:
                await client.close()
