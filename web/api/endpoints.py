"""The HTTP JSON API: sign-in, health, the caller's profile and timetable."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web
from sqlalchemy import select, text

from classroom import people, timetable
from classroom.errors import InvalidInput, RateLimited
from classroom.people import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH, Profile
from classroom.storage.models import School
from classroom.timetable import LessonView
from web.api.spec import PRINCIPAL_KEY, Endpoint, QueryParam
from web.services import SERVICES_KEY, Services


class LoginRequest(msgspec.Struct, frozen=True):
    username: str
    password: str


class LoginResponse(msgspec.Struct, frozen=True):
    token: str
    expires_in: int
    role: str


class Health(msgspec.Struct, frozen=True):
    status: str
    node: str
    database: str
    bus: str
    connections: int
    connection_ceiling: int | None
    refused_at_ceiling: int


class Timetable(msgspec.Struct, frozen=True):
    date_from: dt.date = msgspec.field(name="from")
    date_to: dt.date = msgspec.field(name="to")
    lessons: list[LessonView] = []


def _services(request: web.Request) -> Services:
    return request.app[SERVICES_KEY]


async def login(request: web.Request, body: LoginRequest) -> LoginResponse:
    services = _services(request)
    if not body.username or len(body.username) > MAX_USERNAME_LENGTH:
        raise InvalidInput("the username is empty or too long", code="invalid_body")
    if len(body.password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("the password is too long", code="invalid_body")
    address = request.remote or "unknown"
    for limiter, key in (
        (services.login_by_address, address),
        (services.login_by_username, body.username.casefold()),
    ):
        bucket = limiter.bucket(key)
        if not bucket.take():
            raise RateLimited(
                "too many sign-in attempts; try again later", retry_after=bucket.wait_time()
            )
    principal = await people.authenticate(services.db, body.username, body.password)
    return LoginResponse(
        token=services.tokens.issue(principal),
        expires_in=services.tokens.ttl_seconds,
        role=principal.role.value,
    )


async def health(request: web.Request) -> Health:
    services = _services(request)
    async with services.db.session() as session:
        await session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        node=services.node_id,
        database="sqlite" if services.db.is_sqlite else "postgresql",
        bus="redis" if services.settings.uses_redis else "memory",
        connections=services.realtime.connection_count,
        connection_ceiling=services.realtime.connection_ceiling,
        refused_at_ceiling=services.realtime.refused_at_ceiling,
    )


async def me(request: web.Request) -> Profile:
    return await people.profile(_services(request).db, request[PRINCIPAL_KEY])


async def school_today(request: web.Request) -> dt.date:
    services = _services(request)
    async with services.db.session() as session:
        zone = await session.scalar(
            select(School.timezone).where(School.id == request[PRINCIPAL_KEY].school_id)
        )
    return dt.datetime.now(ZoneInfo(zone or "UTC")).date()


async def get_timetable(
    request: web.Request, date_from: dt.date | None = None, date_to: dt.date | None = None
) -> Timetable:
    if date_from is None or date_to is None:
        today = await school_today(request)
        date_from = date_from or (date_to if date_to and date_to < today else today)
        date_to = date_to or date_from
    services = _services(request)
    principal = request[PRINCIPAL_KEY]
    lessons = await timetable.lessons_for(services.db, principal, date_from, date_to)
    lessons = await timetable.with_join_links(
        services.db,
        services.links,
        principal,
        lessons,
        now=services.clock(),
        times=services.settings.room_times,
    )
    return Timetable(date_from=date_from, date_to=date_to, lessons=lessons)


async def _timetable_handler(request: web.Request, **query: dt.date | None) -> Timetable:
    return await get_timetable(request, query.get("from"), query.get("to"))


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "POST",
        "/api/login",
        "Sign in with a username and password; returns an access token.",
        LoginResponse,
        login,
        body=LoginRequest,
        auth=False,
        tag="auth",
        errors={401: "wrong username or password", 429: "too many attempts"},
    ),
    Endpoint(
        "GET",
        "/api/health",
        "Whether this node and its database answer.",
        Health,
        health,
        auth=False,
        tag="service",
    ),
    Endpoint(
        "GET",
        "/api/me",
        "The caller's own profile (and a parent's children).",
        Profile,
        me,
        tag="people",
        panel=True,
        errors={404: "the account no longer exists"},
    ),
    Endpoint(
        "GET",
        "/api/timetable",
        "Lessons in a date range: a teacher's own, a student's class's, a parent's "
        "children's (each marked with the child). Defaults to today in the school's zone.",
        Timetable,
        _timetable_handler,
        tag="timetable",
        query=(
            QueryParam("from", dt.date, "First date (inclusive), e.g. 2026-09-01."),
            QueryParam("to", dt.date, "Last date (inclusive); at most 62 days after 'from'."),
        ),
        panel=True,  # refused by the domain with its own reason, no_timetable
        errors={403: "this account has no timetable (a panel)"},
    ),
]
