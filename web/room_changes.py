"""Every node forgets what it cached of a lesson's room when the room changes anywhere."""

from __future__ import annotations

from typing import Any

from realtime.server import RealtimeServer
from web.services import Services

ROOM_CHANGES_CHANNEL = "nodes:rooms"
"""A channel every node listens to itself; no client is ever a member."""
ROOM_CHANGED_EVENT = "room.changed"


async def room_changed(services: Services, lesson_id: int) -> None:
    """After a change of the room's switches, state, removals or links has been stored:
    this node forgets the room now, the others as soon as the notice reaches them."""
    services.room_cache.forget(lesson_id)
    await services.realtime.publish(
        ROOM_CHANGES_CHANNEL, ROOM_CHANGED_EVENT, {"lesson_id": lesson_id}
    )


async def listen_for_room_changes(services: Services, realtime: RealtimeServer) -> None:
    cache = services.room_cache

    def heard(event: str, data: Any) -> None:
        lesson_id = data.get("lesson_id") if isinstance(data, dict) else None
        if event == ROOM_CHANGED_EVENT and isinstance(lesson_id, int):
            cache.forget(lesson_id)
        else:  # notices were lost, or one this node cannot read: forget everything
            cache.clear()

    await realtime.listen(ROOM_CHANGES_CHANNEL, heard)
