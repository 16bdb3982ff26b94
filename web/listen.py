"""Listening sites of a server process: aiohttp's, with the realtime front door before it."""

from __future__ import annotations

from aiohttp import web

from realtime.front_door import DoorSite
from web.services import SERVICES_KEY


async def start_site(
    runner: web.AppRunner, host: str, port: int, *, reuse_port: bool = False
) -> web.TCPSite:
    """Listen on ``host:port``. New Socket.IO WebSockets go through the front door unless
    the settings ask for aiohttp's request handler (``UROK_WEBSOCKET_FRONT``)."""
    services = runner.app[SERVICES_KEY]
    site: web.TCPSite
    if services.settings.websocket_front == "door":
        door = services.realtime.front_door()
        site = DoorSite(runner, door, host, port, reuse_port=reuse_port or None)
    else:
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    return site
