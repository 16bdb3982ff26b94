"""The application factory: the one place that wires every package together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from classroom.boards.store import Boards
from classroom.demo import ensure_lesson_now, seed_demo_school
from classroom.errors import DomainError, Unauthenticated
from classroom.join_links import JoinLinks
from classroom.outbox import OutboxEvents, OutboxRelay
from classroom.roles import Principal
from classroom.room_cache import RoomCache
from classroom.rooms import room_channel, user_channel
from classroom.storage.database import Database
from classroom.tokens import TokenService
from media.server import MediaServer
from presence.notices import NOTICE_EVENT, NoticeDispatcher, NoticeView
from realtime.bus import create_bus
from realtime.bus.rpc import RedisRequests
from realtime.ratelimit import KeyedLimiter
from realtime.router import EventRouter
from realtime.server import RealtimeServer
from web import errors, pages
from web.api.boards import BOARD_ENDPOINTS
from web.api.diary import DIARY_ENDPOINTS
from web.api.endpoints import ENDPOINTS
from web.api.journal import JOURNAL_ENDPOINTS
from web.api.lessons import LESSON_ENDPOINTS
from web.api.library import LIBRARY_ENDPOINTS
from web.api.recordings import RECORDING_ENDPOINTS
from web.api.spec import (
    Endpoint,
    ErrorDetail,
    ErrorResponse,
    json_response,
    make_handler,
    openapi_document,
)
from web.background import BackgroundWork
from web.events import register_events
from web.limits import connection_ceiling, open_files_limit
from web.linked_services import wire_linked_services
from web.media_rooms import MediaOps, MediaRooms
from web.room_changes import listen_for_room_changes
from web.room_events import member_key
from web.services import SERVICES_KEY, Services
from web.settings import Settings
from web.webhooks import WebhookSender

log = logging.getLogger(__name__)

MAX_BEARER_LENGTH = 4096


def _version() -> str:
    try:
        return metadata.version("urok")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _error_response(status: int, code: str, message: str, **headers: str) -> web.Response:
    response = json_response(ErrorResponse(ErrorDetail(code, message)), status=status)
    response.headers.update(headers)
    return response


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Domain errors become JSON refusals with a reason; a bug becomes a bare 500."""
    try:
        return await handler(request)
    except DomainError as exc:
        headers: dict[str, str] = {}
        if getattr(exc, "retry_after", None) is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))  # type: ignore[attr-defined]
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="urok"'
        return _error_response(errors.http_status(exc), exc.code, exc.message, **headers)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        return _error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        return _error_response(500, "internal", "the server failed to handle this request")


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(settings: Settings) -> web.Application:
    """Build the aiohttp application; storage and the bus start with the app."""
    settings = settings.with_secret()
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    tokens = TokenService(settings.secret_key, settings.token_ttl)
    links = JoinLinks(settings.secret_key)

    async def authenticate_token(token: Any) -> Principal:
        return tokens.verify(token)

    router = EventRouter(
        translate_error=errors.translate,
        events_per_second=settings.events_per_second,
        event_burst=settings.event_burst,
    )
    realtime = RealtimeServer(
        router=router,
        authenticate=authenticate_token,
        translate_error=errors.translate,
        max_event_bytes=settings.max_event_bytes,
        ping_interval=settings.ping_interval,
        member_key=member_key,
        max_connections=settings.max_connections or connection_ceiling(open_files_limit()),
    )
    services = Services(
        settings=settings,
        db=db,
        tokens=tokens,
        links=links,
        realtime=realtime,
        boards=Boards(db),
        login_by_address=KeyedLimiter(
            settings.login_burst / settings.login_window_seconds, settings.login_burst
        ),
        login_by_username=KeyedLimiter(
            settings.login_burst / settings.login_window_seconds, settings.login_burst * 2
        ),
        room_cache=RoomCache(db),
    )
    services.events = OutboxEvents(db, lambda: services.wake_background(), lambda: services.clock())
    if settings.media_workers:
        requests = RedisRequests(settings.bus_url, prefix=settings.bus_prefix)
        services.media_rooms = MediaRooms(requests=requests, workers=settings.media_workers)
    else:
        services.media = MediaServer(settings.media)

        async def announce(lesson_id: int, event: str, data: Any) -> None:
            await realtime.publish(room_channel(lesson_id), event, data)

        services.media_rooms = MediaRooms(ops=MediaOps(services.media, announce))
    register_events(router, services)
    wire_linked_services(services)

    app = web.Application(middlewares=[security_headers, error_middleware], client_max_size=1 << 20)
    app[SERVICES_KEY] = services

    async def bearer(request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > MAX_BEARER_LENGTH:
            raise Unauthenticated(
                "send an access token as 'Authorization: Bearer …'", code="token_missing"
            )
        return tokens.verify(token.strip())

    document_bytes = b""

    async def openapi(_request: web.Request) -> web.Response:
        return web.Response(body=document_bytes, content_type="application/json")

    endpoints = [
        *ENDPOINTS,
        *LESSON_ENDPOINTS,
        *BOARD_ENDPOINTS,
        *JOURNAL_ENDPOINTS,
        *DIARY_ENDPOINTS,
        *LIBRARY_ENDPOINTS,
        *RECORDING_ENDPOINTS,
        Endpoint(
            "GET",
            "/api/openapi.json",
            "This document: every endpoint of the HTTP API.",
            dict[str, Any],
            openapi,
            auth=False,
            tag="service",
        ),
    ]
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, make_handler(endpoint, bearer))
    document_bytes = msgspec.json.encode(openapi_document(endpoints, version=_version()))
    pages.add_routes(app, settings)
    realtime.attach_to(app)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_disconnect_clients)
    return app


async def _disconnect_clients(app: web.Application) -> None:
    """Close live connections first, so that shutdown does not wait on open WebSockets."""
    services = app[SERVICES_KEY]
    await services.realtime.close()
    if services.media is not None:
        await services.media.close()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES_KEY]
    settings = services.settings
    await services.db.migrate()
    await services.db.warm_up()
    if settings.demo:
        await seed_demo_school(services.db)
        if settings.demo_lesson_now:
            await ensure_lesson_now(services.db, services.clock())
    bus = create_bus(
        settings.bus_url,
        services.realtime.deliver,
        prefix=settings.bus_prefix,
        history_length=settings.bus_history,
    )
    await bus.start()
    services.realtime.use_bus(bus)
    await listen_for_room_changes(services, services.realtime)
    requests = services.media_rooms.requests if services.media_rooms is not None else None
    if requests is not None:
        await requests.start()
    webhook = (
        WebhookSender(settings.webhook_url, settings.webhook_secret)
        if settings.webhook_url
        else None
    )

    async def publish_notice(person_id: int, notice: NoticeView) -> None:
        await services.realtime.publish(user_channel(person_id), NOTICE_EVENT, notice)

    background = BackgroundWork(
        services,
        NoticeDispatcher(services.db, services.node_id, publish_notice, webhook),
        OutboxRelay(services.db, services.node_id, services.events),
    )
    services.wake_background = background.wake
    background.start()
    try:
        yield
    finally:
        await background.stop()
        if webhook is not None:
            await webhook.close()
        if requests is not None:
            await requests.close()
        await bus.close()
        await services.db.close()


def static_dir() -> Path:
    return Path(__file__).parent / "static"
