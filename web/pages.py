"""Browser pages: the sign-in page, each role's "today" page, and their static files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from web.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_FILES = {
    "socket.io.msgpack.min.js": ("socket.io-client", "dist", "socket.io.msgpack.min.js"),
}
PAGES = {"/": "login.html", "/today": "today.html"}


def add_routes(app: web.Application, settings: Settings) -> None:
    """Serve the pages, ``/static/…`` and the Socket.IO browser client from node_modules."""

    def page(filename: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        path = STATIC_DIR / filename

        async def serve(_request: web.Request) -> web.StreamResponse:
            response = web.FileResponse(path)
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                "frame-ancestors 'none'"
            )
            response.headers["Cache-Control"] = "no-cache"
            return response

        return serve

    for route, filename in PAGES.items():
        app.router.add_get(route, page(filename))

    async def vendor(request: web.Request) -> web.StreamResponse:
        parts = VENDOR_FILES.get(request.match_info["name"])
        if parts is None:
            raise web.HTTPNotFound(reason="no such vendor file")
        path = settings.node_modules.joinpath(*parts)
        if not path.is_file():
            raise web.HTTPNotFound(
                reason="the browser client is not installed: run 'npm ci' in the project folder"
            )
        return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    app.router.add_get("/vendor/{name}", vendor)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
