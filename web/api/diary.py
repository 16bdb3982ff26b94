"""HTTP API of the diary (students, parents and trusted persons) and of calendar feeds."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web
from sqlalchemy import select

from classroom.diary import calendar, trusted, week
from classroom.diary.trusted import NewTrusted, TrustedList, TrustedView
from classroom.diary.week import DiaryWeek, Readable
from classroom.storage.models import School
from web.api.endpoints import school_today
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY


class CalendarFeed(msgspec.Struct, frozen=True):
    url: str


class Revoked(msgspec.Struct, frozen=True):
    revoked: bool = True


async def students(request: web.Request) -> Readable:
    return await week.readable(request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY])


async def get_week(
    request: web.Request, student_id: int | None = None, **dates: dt.date | None
) -> DiaryWeek:
    services = request.app[SERVICES_KEY]
    today = await school_today(request)
    date_from = dates.get("from") or today - dt.timedelta(days=today.weekday())
    return await week.week(
        services.db,
        services.links,
        request[PRINCIPAL_KEY],
        student_id=student_id,
        date_from=date_from,
        today=today,
        now=services.clock(),
        times=services.settings.room_times,
    )


async def list_trusted(request: web.Request) -> TrustedList:
    return await trusted.list_for(request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY])


async def add_trusted(request: web.Request, body: NewTrusted) -> TrustedView:
    services = request.app[SERVICES_KEY]
    return await trusted.add(services.db, request[PRINCIPAL_KEY], body, now=services.clock())


async def revoke_trusted(request: web.Request, person_id: int) -> TrustedList:
    services = request.app[SERVICES_KEY]
    return await trusted.revoke(
        services.db, request[PRINCIPAL_KEY], person_id, now=services.clock()
    )


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def make_feed(request: web.Request) -> CalendarFeed:
    services = request.app[SERVICES_KEY]
    token = await calendar.make_feed(services.db, request[PRINCIPAL_KEY], now=services.clock())
    return CalendarFeed(f"{_base_url(request)}/api/calendar/{token}.ics")


async def revoke_feed(request: web.Request) -> Revoked:
    await calendar.revoke_feed(request.app[SERVICES_KEY].db, request[PRINCIPAL_KEY])
    return Revoked()


async def get_feed(request: web.Request, token: str) -> web.Response:
    services = request.app[SERVICES_KEY]
    owner = await calendar.owner_of(services.db, token)
    async with services.db.session() as session:
        zone = await session.scalar(select(School.timezone).where(School.id == owner.school_id))
    now = services.clock()
    body = await calendar.feed(
        services.db,
        services.links,
        owner,
        today=now.astimezone(ZoneInfo(zone or "UTC")).date(),
        now=now,
        times=services.settings.room_times,
        base_url=_base_url(request),
    )
    return web.Response(text=body, content_type="text/calendar", charset="utf-8")


DIARY_ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/diary/students",
        "Whose diary the caller may read: a student their own, a parent each child, a "
        "trusted person the children granted to them.",
        Readable,
        students,
        tag="diary",
        errors={403: "not a student or a family member"},
    ),
    Endpoint(
        "GET",
        "/api/diary/week",
        "A student's week: lessons with join links, topics, homework with materials, grades "
        "with comments, attendance marks, recordings, and tests of the next three weeks; "
        "first, the recordings of lessons the student missed (recordings for the student "
        "and their parents only). A family member's read is audited.",
        DiaryWeek,
        get_week,
        tag="diary",
        query=(
            QueryParam("student_id", int, "The student (a student may leave it out)."),
            QueryParam("from", dt.date, "First day of the week; this Monday by default."),
        ),
        errors={403: "not a student or a family member", 404: "no such student of the caller's"},
    ),
    Endpoint(
        "GET",
        "/api/diary/trusted",
        "The caller's trusted persons and the children each may read (a parent).",
        TrustedList,
        list_trusted,
        tag="diary",
        errors={403: "not a parent"},
    ),
    Endpoint(
        "POST",
        "/api/diary/trusted",
        "Add a trusted person (e.g. a grandparent): a new account that may only read the "
        "diary of the chosen children of the caller's.",
        TrustedView,
        add_trusted,
        body=NewTrusted,
        tag="diary",
        errors={
            403: "not a parent",
            404: "no such child of the caller's",
            409: "the username is taken, or too many trusted persons",
        },
    ),
    Endpoint(
        "DELETE",
        "/api/diary/trusted/{person_id}",
        "Revoke a trusted person's access to the caller's children (at once).",
        TrustedList,
        revoke_trusted,
        path_params=(QueryParam("person_id", int, "The trusted person."),),
        tag="diary",
        errors={403: "not a parent", 404: "no such trusted person of the caller's"},
    ),
    Endpoint(
        "POST",
        "/api/calendar/feed",
        "Make the caller's secret calendar address (iCalendar); an earlier one stops working.",
        CalendarFeed,
        make_feed,
        tag="calendar",
        errors={403: "a panel has no timetable"},
    ),
    Endpoint(
        "DELETE",
        "/api/calendar/feed",
        "Revoke the caller's calendar address.",
        Revoked,
        revoke_feed,
        tag="calendar",
        errors={404: "the caller has no calendar address"},
    ),
    Endpoint(
        "GET",
        "/api/calendar/{token}.ics",
        "The timetable as iCalendar (a week back, four ahead), online lessons with their "
        "links; the secret address is the credential.",
        str,
        get_feed,
        auth=False,
        path_params=(QueryParam("token", str, "The secret of the address."),),
        content_type="text/calendar",
        tag="calendar",
        errors={404: "no such calendar (or it was revoked)"},
    ),
]
