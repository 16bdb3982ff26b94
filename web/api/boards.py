"""HTTP API of the whiteboard and classroom panels: page export, panel pairing."""

from __future__ import annotations

import datetime as dt

import msgspec
import segno
from aiohttp import web

from classroom import panels, rooms
from classroom.boards import access, render
from classroom.boards.document import Item
from classroom.errors import NotFound
from classroom.rooms import LessonFacts
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY, Services

LESSON_ID = QueryParam("lesson_id", int, "The lesson occurrence.")
PAGE = QueryParam("page", int, "The page number, from 0.")


class PairingView(msgspec.Struct, frozen=True):
    code: str
    url: str
    expires_at: dt.datetime
    qr_svg: str


class PanelStatus(msgspec.Struct, frozen=True):
    bound: bool
    lesson: LessonFacts | None = None


class PairRequest(msgspec.Struct, frozen=True):
    code: str


class PanelPaired(msgspec.Struct, frozen=True):
    lesson: LessonFacts


def _services(request: web.Request) -> Services:
    return request.app[SERVICES_KEY]


async def start_pairing(request: web.Request) -> PairingView:
    services = _services(request)
    pairing = await panels.start_pairing(services.db, request[PRINCIPAL_KEY], now=services.clock())
    url = f"{request.scheme}://{request.host}/pair/{pairing.code}"
    qr = segno.make(url, error="m").svg_inline(scale=8, border=2, dark="#000", light="#fff")
    return PairingView(pairing.code, url, pairing.expires_at, qr)


async def panel_status(request: web.Request) -> PanelStatus:
    services = _services(request)
    principal = request[PRINCIPAL_KEY]
    panels.require_panel(principal)
    lesson = await panels.bound_lesson(
        services.db, principal, now=services.clock(), times=services.settings.room_times
    )
    return PanelStatus(bound=lesson is not None, lesson=lesson)


async def pair(request: web.Request, body: PairRequest) -> PanelPaired:
    services = _services(request)
    lesson = await panels.pair(
        services.db,
        request[PRINCIPAL_KEY],
        body.code[:32],
        now=services.clock(),
        times=services.settings.room_times,
    )
    return PanelPaired(lesson)


async def _page_items(request: web.Request, lesson_id: int, page: int) -> list[Item]:
    services = _services(request)
    principal = request[PRINCIPAL_KEY]
    room = await rooms.load_room(services.db, lesson_id, principal.school_id)
    await access.actor_of(services.db, room, principal)
    doc = await services.boards.document(room.lesson, services.clock())
    if not 0 <= page < len(doc.pages):
        raise NotFound("the board has no such page", code="no_such_page")
    return doc.pages[page].visible()


def _file_name(lesson_id: int, page: int, ext: str) -> str:
    return f'attachment; filename="board-lesson-{lesson_id}-page-{page + 1}.{ext}"'


async def page_svg(request: web.Request, lesson_id: int, page: int) -> web.Response:
    items = await _page_items(request, lesson_id, page)
    return web.Response(
        text=render.page_svg(items, f"Board, lesson {lesson_id}, page {page + 1}"),
        content_type="image/svg+xml",
        charset="utf-8",
        headers={"Content-Disposition": _file_name(lesson_id, page, "svg")},
    )


async def page_png(request: web.Request, lesson_id: int, page: int) -> web.Response:
    items = await _page_items(request, lesson_id, page)
    return web.Response(
        body=render.page_png(items),
        content_type="image/png",
        headers={"Content-Disposition": _file_name(lesson_id, page, "png")},
    )


BOARD_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/lessons/{lesson_id}/board/pages/{page}.svg",
        "A page of the lesson's board as SVG (its teacher, the class's students, the panel "
        "bound to the lesson).",
        str,
        page_svg,
        path_params=(LESSON_ID, PAGE),
        tag="boards",
        content_type="image/svg+xml",
        panel=True,
        errors={403: "not a participant of the lesson", 404: "no such lesson or page"},
    ),
    Endpoint(
        "GET",
        "/api/lessons/{lesson_id}/board/pages/{page}.png",
        "A page of the lesson's board as a PNG image, 1600 pixels wide.",
        bytes,
        page_png,
        path_params=(LESSON_ID, PAGE),
        tag="boards",
        content_type="image/png",
        panel=True,
        errors={403: "not a participant of the lesson", 404: "no such lesson or page"},
    ),
    Endpoint(
        "POST",
        "/api/panel/pairing",
        "A new pairing code for the calling panel (two minutes, single use), with its link "
        "as a QR code (SVG).",
        PairingView,
        start_pairing,
        tag="panels",
        panel=True,
        errors={403: "not a classroom panel"},
    ),
    Endpoint(
        "GET",
        "/api/panel/status",
        "Whether the calling panel is bound to a lesson, and which.",
        PanelStatus,
        panel_status,
        tag="panels",
        panel=True,
        errors={403: "not a classroom panel"},
    ),
    Endpoint(
        "POST",
        "/api/panel/pair",
        "A teacher confirms a panel's code: the panel shows the teacher's current lesson "
        "until it ends.",
        PanelPaired,
        pair,
        body=PairRequest,
        tag="panels",
        errors={403: "not a teacher", 404: "unknown, used or expired code; no current lesson"},
    ),
]
