"""What both baselines share: their command line, GC settings, and the replies they give."""

from __future__ import annotations

import argparse
import contextlib
import gc
import time
import uuid
from typing import Any

from aiohttp import web


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ping-interval", type=float, default=25.0)
    parser.add_argument("--gc-thresholds", default="100000,50,100")
    parser.add_argument("--gc-freeze", type=int, default=1)
    return parser.parse_args()


def apply_gc(thresholds: str) -> None:
    if thresholds != "default":
        first, second, third = (int(x) for x in thresholds.split(","))
        gc.set_threshold(first, second, third)


def serve(app: web.Application, args: argparse.Namespace) -> None:
    """Run the app with uvloop until SIGTERM/SIGINT, with the bench's GC settings."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    apply_gc(args.gc_thresholds)

    async def freeze(_app: web.Application) -> None:
        if args.gc_freeze:
            gc.freeze()

    app.on_startup.append(freeze)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


def join_reply(lesson_id: int, person: str, head: int) -> dict[str, Any]:
    """A small room snapshot, shaped like urok's reply."""
    return {
        "ok": True,
        "data": {
            "room": {"lesson": {"id": lesson_id}, "status": {"state": "live"}, "me": person},
            "stream": {
                "channel": f"room:{lesson_id}",
                "offset": head,
                "reload": False,
                "events": [],
            },
        },
    }


def chat_message(lesson_id: int, offset: int, text: str) -> tuple[str, dict[str, Any]]:
    message_id = uuid.uuid4().hex
    return message_id, {
        "channel": f"room:{lesson_id}",
        "offset": offset,
        "data": {"id": message_id, "lesson_id": lesson_id, "text": text, "sent_at": time.time()},
    }
