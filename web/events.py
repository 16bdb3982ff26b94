"""Socket.IO events of the school, registered with the realtime router.

Handlers here adapt transport calls to domain calls: they check rights in ``classroom``
and use ``realtime`` for channel membership and publishing. Lesson rooms are in
``web.room_events``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from classroom import rooms
from classroom.errors import Forbidden
from classroom.roles import Principal, Role
from realtime.router import Call, EventRouter, Rate
from realtime.server import AttachResult
from web.services import Services

Offset = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
LessonId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]
PersonId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class NoticesJoin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    since: Offset | None = None


def principal_of(call: Call) -> Principal:
    assert isinstance(call.principal, Principal)
    return call.principal


def register_events(router: EventRouter, services: Services) -> None:
    """Register the school's events with the router."""
    from web.board_events import PANEL_EVENTS, register_board_events
    from web.media_events import register_media_events
    from web.recording_events import register_recording_events
    from web.room_events import register_room_events

    def panels_draw_only(call: Call) -> None:
        principal = call.principal
        if (
            isinstance(principal, Principal)
            and principal.role is Role.PANEL
            and call.event not in PANEL_EVENTS
        ):
            raise Forbidden("a classroom panel shows the board only", code="panel_board_only")

    router.gate(panels_draw_only)

    async def notices_join(call: Call, payload: NoticesJoin) -> AttachResult:
        channel = rooms.user_channel(principal_of(call).person_id)
        return await services.realtime.attach(call.sid, channel, payload.since)

    router.register(
        "notices.join",
        NoticesJoin,
        notices_join,
        rate=Rate(1, 5),
        summary="Receive one's own live notices and private messages; replays since an offset.",
    )
    register_room_events(router, services)
    register_board_events(router, services, services.boards)
    if services.media_rooms is not None:
        register_media_events(router, services, services.media_rooms)
        register_recording_events(router, services, services.media_rooms)
