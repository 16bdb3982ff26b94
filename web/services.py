"""What the handlers of one server process share: storage, tokens, realtime, limits."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from classroom.boards.store import Boards
from classroom.events import EventDispatcher
from classroom.join_links import JoinLinks
from classroom.room_cache import RoomCache
from classroom.storage.database import Database
from classroom.tokens import TokenService
from media.server import MediaServer
from realtime.ratelimit import KeyedLimiter
from realtime.server import RealtimeServer
from web.media_rooms import MediaRooms
from web.settings import Settings


def new_node_id() -> str:
    """This process's name among the nodes (made when its services are, after any fork)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    tokens: TokenService
    links: JoinLinks
    realtime: RealtimeServer
    boards: Boards
    login_by_address: KeyedLimiter
    login_by_username: KeyedLimiter
    room_cache: RoomCache
    """Rooms and entry facts of lessons for the join path (see ``web.room_changes``)."""
    node_id: str = field(default_factory=new_node_id)
    clock: Callable[[], dt.datetime] = utc_now
    wake_background: Callable[[], None] = field(default=lambda: None)
    media: MediaServer | None = None
    """This process's media server (none when media workers own the rooms)."""
    media_rooms: MediaRooms | None = None
    """The way to every lesson's media room, here or in its media worker."""
    events: EventDispatcher = field(default_factory=EventDispatcher)


SERVICES_KEY = web.AppKey("services", Services)
