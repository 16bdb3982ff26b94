"""Browser pages: sign-in, each role's "today", a lesson's live room, the diary (students,
parents, trusted persons), the teacher's journal, the library, and their static files.

Each page is its own ``<main>`` (``web/page_parts/<page>.html``) inside one shell that holds
the head and the header bar; the pages are put together once, at start-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from web.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
PARTS_DIR = Path(__file__).parent / "page_parts"
VENDOR_FILES = {
    "socket.io.msgpack.min.js": ("socket.io-client", "dist", "socket.io.msgpack.min.js"),
}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "media-src 'self' blob:; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Page:
    """A page: its part and script (``name``) and what its header bar shows."""

    name: str
    live: bool = True  # the connection indicator; the page loads the Socket.IO client
    back_to_today: bool = False
    sign_out: bool = False


PAGES = {
    "/": Page("login", live=False),
    "/today": Page("today", sign_out=True),
    "/lesson/{lesson_id:[0-9]{1,18}}": Page("lesson", back_to_today=True),
    "/diary": Page("diary", back_to_today=True, sign_out=True),
    "/panel": Page("panel", sign_out=True),
    "/pair/{code:[A-Za-z0-9]{4,16}}": Page("pair", live=False, back_to_today=True),
    "/journal": Page("journal", live=False, back_to_today=True, sign_out=True),
    "/library": Page("library", live=False, back_to_today=True, sign_out=True),
    "/recording/{recording_id:[0-9]{1,18}}": Page("recording", live=False, back_to_today=True),
}

_LIVE = """\
    <p class="live" id="live" role="status" aria-live="polite">
      <span class="dot" aria-hidden="true"></span>
      <span class="visually-hidden" data-i18n="live.label"></span>
      <span id="live-text" data-state="connecting"></span>
    </p>"""
_BACK_TO_TODAY = '    <a class="button-link" href="/today" data-i18n="nav.today">Расписание</a>'
_LANGUAGE = (
    '    <button type="button" class="lang" id="lang" data-i18n="lang.switch">English</button>'
)
_SIGN_OUT = '    <button type="button" id="signout" data-i18n="today.signout">Выйти</button>'


def render_page(page: Page) -> str:
    """The page's whole HTML."""
    scripts = []
    if page.live:
        scripts.append('  <script src="/vendor/socket.io.msgpack.min.js" defer></script>')
    scripts.append(f'  <script type="module" src="/static/{page.name}.js"></script>')
    header = [_LIVE] if page.live else []
    if page.back_to_today:
        header.append(_BACK_TO_TODAY)
    header.append(_LANGUAGE)
    if page.sign_out:
        header.append(_SIGN_OUT)
    shell = (PARTS_DIR / "shell.html").read_text(encoding="utf-8")
    main = (PARTS_DIR / f"{page.name}.html").read_text(encoding="utf-8")
    return shell.format(scripts="\n".join(scripts), header="\n".join(header), main=main.rstrip())


def add_routes(app: web.Application, settings: Settings) -> None:
    """Serve the pages, ``/static/…`` and the Socket.IO browser client from node_modules."""

    def serve_page(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        body = render_page(page).encode()

        async def serve(_request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=body,
                content_type="text/html",
                charset="utf-8",
                headers={
                    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "Cache-Control": "no-cache",
                },
            )

        return serve

    for route, page in PAGES.items():
        app.router.add_get(route, serve_page(page))

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
