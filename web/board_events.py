"""Socket.IO events of the lesson whiteboard.

``board.op`` changes the document: stored, numbered (``seq``) and published on the room
channel as ``board.op``. ``board.ink`` (a stroke while it is drawn) and ``board.laser``
are not kept: they go on the room's ink channel, which nobody replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from classroom import rooms
from classroom.boards import access
from classroom.boards.document import (
    BOARD_HEIGHT,
    BOARD_WIDTH,
    MAX_POINTS,
    Actor,
    Color,
    Coordinate,
    Effect,
    ItemId,
    Op,
    PageNo,
    PageView,
    Tool,
    Width,
)
from classroom.boards.store import Applied, Boards
from classroom.errors import Forbidden
from classroom.rooms import LessonFacts
from realtime.router import Call, EventRouter, Rate
from web.events import LessonId, principal_of
from web.services import Services

Version = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
INK_POINTS = 240
RIGHTS_MAX_AGE = 1.0


class BoardJoin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    since: Version | None = None


class BoardOpIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    page: PageNo
    op: Op
    client_id: ClientId


class InkIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    page: PageNo
    stroke: ItemId
    tool: Tool
    color: Color
    width: Width
    points: Annotated[list[Coordinate], msgspec.Meta(max_length=3 * INK_POINTS)] = []
    end: bool = False


class LaserIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lesson_id: LessonId
    page: PageNo
    x: Coordinate
    y: Coordinate
    visible: bool = True


class BoardMe(msgspec.Struct, frozen=True):
    person_id: int
    standing: str


class BoardJoined(msgspec.Struct, frozen=True):
    """The board at ``version``: every page (``full``) or the effects after ``since``."""

    lesson_id: int
    version: int
    me: BoardMe
    full: bool
    width: int
    height: int
    max_points: int
    pages: list[PageView] | None = None
    effects: list[Effect] | None = None


@dataclass(frozen=True, slots=True)
class _Seat:
    lesson: LessonFacts
    actor: Actor


def register_board_events(router: EventRouter, services: Services, boards: Boards) -> None:
    realtime = services.realtime
    db = services.db
    seats: dict[str, dict[int, _Seat]] = {}  # connection -> lesson -> seat

    def seat_of(call: Call, lesson_id: int) -> _Seat:
        seat = seats.get(call.sid, {}).get(lesson_id)
        if seat is None or call.sid not in realtime.members(rooms.room_channel(lesson_id)):
            raise Forbidden("open the lesson's board first", code="not_in_room")
        return seat

    async def board_join(call: Call, payload: BoardJoin) -> BoardJoined:
        if call.sid not in realtime.members(rooms.room_channel(payload.lesson_id)):
            raise Forbidden("join the lesson room first", code="not_in_room")
        room = await rooms.load_room(db, payload.lesson_id, principal_of(call).school_id)
        actor = await access.actor_of(db, room, principal_of(call))
        seats.setdefault(call.sid, {})[room.lesson.id] = _Seat(room.lesson, actor)
        await realtime.attach(call.sid, rooms.ink_channel(room.lesson.id), None)
        now = services.clock()
        doc = await boards.document(room.lesson, now)
        me = BoardMe(actor.person_id, actor.standing.value)
        common: dict[str, Any] = {
            "lesson_id": room.lesson.id,
            "me": me,
            "width": BOARD_WIDTH,
            "height": BOARD_HEIGHT,
            "max_points": MAX_POINTS,
        }
        if payload.since is not None:
            effects = await boards.since(room.lesson, payload.since, now)
            if effects is not None:
                version = effects[-1].seq if effects else payload.since
                return BoardJoined(version=version, full=False, effects=effects, **common)
        return BoardJoined(version=doc.version, full=True, pages=doc.views(), **common)

    async def board_op(call: Call, payload: BoardOpIn) -> Applied:
        seat = seat_of(call, payload.lesson_id)
        channel = rooms.room_channel(payload.lesson_id)

        async def publish(effect: Effect) -> int:
            return await realtime.publish(channel, "board.op", effect)

        return await boards.apply(
            seat.lesson,
            seat.actor,
            payload.page,
            payload.op,
            client_id=payload.client_id,
            now=services.clock(),
            publish=publish,
        )

    async def may_draw(seat: _Seat, page: int) -> bool:
        if seat.actor.staff:
            return True
        doc = await boards.document(seat.lesson, services.clock(), max_age=RIGHTS_MAX_AGE)
        return doc.may_draw(seat.actor, page)

    async def board_ink(call: Call, payload: InkIn) -> dict[str, Any]:
        seat = seat_of(call, payload.lesson_id)
        if not await may_draw(seat, payload.page):
            raise Forbidden("the teacher has not given you the pen on this page", code="no_pen")
        data = msgspec.structs.asdict(payload) | {"person": seat.actor.person_id}
        await realtime.publish(rooms.ink_channel(payload.lesson_id), "board.ink", data)
        return {"stroke": payload.stroke}

    async def board_laser(call: Call, payload: LaserIn) -> dict[str, Any]:
        seat = seat_of(call, payload.lesson_id)
        if not await may_draw(seat, payload.page):
            raise Forbidden("the teacher has not given you the pen on this page", code="no_pen")
        data = msgspec.structs.asdict(payload) | {"person": seat.actor.person_id}
        await realtime.publish(rooms.ink_channel(payload.lesson_id), "board.laser", data)
        return {"visible": payload.visible}

    async def on_disconnect(sid: str, _principal: Any) -> None:
        seats.pop(sid, None)

    realtime.on_disconnect(on_disconnect)
    router.register(
        "board.join",
        BoardJoin,
        board_join,
        rate=Rate(2, 10),
        summary="Load the lesson's board (every page, or the operations after a version).",
    )
    router.register(
        "board.op",
        BoardOpIn,
        board_op,
        rate=Rate(30, 60),
        own_budget=True,
        summary="Change the board: add, erase, clear, undo, redo, add a page, give the pen.",
    )
    router.register(
        "board.ink",
        InkIn,
        board_ink,
        rate=Rate(90, 180),
        own_budget=True,
        summary="The points of a stroke while it is drawn (not kept).",
    )
    router.register(
        "board.laser",
        LaserIn,
        board_laser,
        rate=Rate(60, 120),
        own_budget=True,
        summary="Where the laser pointer is (not kept).",
    )


PANEL_EVENTS = frozenset(
    {"room.join", "room.leave", "board.join", "board.op", "board.ink", "board.laser"}
)
