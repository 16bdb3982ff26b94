"""What the handlers of one server process share: storage, tokens, realtime, limits."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from classroom.storage.database import Database
from classroom.tokens import TokenService
from realtime.ratelimit import KeyedLimiter
from realtime.server import RealtimeServer
from web.settings import Settings


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    tokens: TokenService
    realtime: RealtimeServer
    login_by_address: KeyedLimiter
    login_by_username: KeyedLimiter


SERVICES_KEY = web.AppKey("services", Services)
