"""A webhook receiver for tests: checks signatures and counts deliveries."""

from __future__ import annotations

import hmac
import time
from collections import Counter

import msgspec
from aiohttp import web

from web.webhooks import signature

SECRET = "webhook-secret-of-the-sms-gateway-0123456789"


class Gateway:
    """A webhook receiver on loopback that checks signatures and counts deliveries."""

    def __init__(self) -> None:
        self.accepting = False
        self.refused = 0
        self.deliveries: Counter[str] = Counter()
        self.bodies: dict[str, dict[str, object]] = {}
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = signature(SECRET, request.headers["X-Urok-Timestamp"], body)
        if not hmac.compare_digest(expected, request.headers["X-Urok-Signature"]):
            self.bad_signatures += 1
            return web.Response(status=401)
        if abs(int(request.headers["X-Urok-Timestamp"]) - time.time()) > 60:
            self.bad_signatures += 1
        if not self.accepting:
            self.refused += 1
            return web.Response(status=503, text="busy")
        notice_id = request.headers["X-Urok-Notice-Id"]
        self.deliveries[notice_id] += 1
        self.bodies[notice_id] = msgspec.json.decode(body)
        return web.Response(status=204)
