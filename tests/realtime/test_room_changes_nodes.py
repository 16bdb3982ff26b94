"""Rooms cached by each node for the join path are forgotten on every node when the room
changes on one of them: a removed student, a revoked link or a locked room is refused at
once on the other node too."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.clients import LiveClient, enter, seat
from tests.realtime.test_two_nodes import lesson_in, start_node


async def _enter_and_leave(client: LiveClient, place: Any) -> int:
    """Enter (which fills the node's cache of the room) and leave again; the person's id."""
    joined = await enter(client, place)
    assert joined["ok"], joined
    left = await client.call("room.leave", {"lesson_id": place.lesson_id})
    assert left["ok"], left
    return int(joined["data"]["room"]["me"]["id"])


def _refusal(reply: Any) -> str:
    assert not reply["ok"], reply
    return str(reply["error"]["code"])


async def test_changes_on_one_node_refuse_entries_on_the_other_at_once(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    clients: list[LiveClient] = []

    async def connected(node_url: str, username: str) -> tuple[LiveClient, Any]:
        place = await seat(node_url, username, lesson)
        client = LiveClient()
        clients.append(client)
        await client.connect(node_url, place.token)
        return client, place

    try:
        teacher, teacher_place = await connected(node_a.url, "teacher")
        assert (await enter(teacher, teacher_place))["ok"]
        removed, removed_place = await connected(node_b.url, "student-5a-02")
        revoked, revoked_place = await connected(node_b.url, "student-5a-03")
        late, late_place = await connected(node_b.url, "student-5a-04")
        removed_id = await _enter_and_leave(removed, removed_place)
        revoked_id = await _enter_and_leave(revoked, revoked_place)

        reply = await teacher.call("room.remove", {"lesson_id": lesson, "person_id": removed_id})
        assert reply["ok"], reply
        assert _refusal(await enter(removed, removed_place)) == "removed"

        reply = await teacher.call("link.revoke", {"lesson_id": lesson, "person_id": revoked_id})
        assert reply["ok"], reply
        assert _refusal(await enter(revoked, revoked_place)) == "link_revoked"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "lock"})
        assert reply["ok"], reply
        assert _refusal(await enter(late, late_place)) == "room_locked"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "unlock"})
        assert reply["ok"], reply
        assert (await enter(late, late_place))["ok"], "unlocked again on node B too"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "end"})
        assert reply["ok"], reply
        other, other_place = await connected(node_b.url, "student-5a-05")
        assert _refusal(await enter(other, other_place)) == "room_ended"
    finally:
        for client in clients:
            if client.sio.connected:
                await client.close()
