"""python-socketio as shipped: AsyncServer with the msgpack serializer and the stock
manager; ``room.join`` enters a Socket.IO room and acks a small snapshot.
Run as ``python -m bench.storm.baseline_stock --port P``."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import socketio
from aiohttp import web

from bench.storm.baseline_common import chat_message, join_reply, parse_args, serve


def main() -> None:
    args = parse_args()
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        serializer="msgpack",
        transports=["websocket"],
        ping_interval=args.ping_interval,
        cors_allowed_origins=[],
    )
    heads: defaultdict[int, int] = defaultdict(int)

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    async def room_join(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        lesson = int(payload["lesson_id"])
        await sio.enter_room(sid, f"room:{lesson}")
        return join_reply(lesson, sid, heads[lesson])

    async def chat_send(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        lesson = int(payload["lesson_id"])
        heads[lesson] += 1
        message_id, body = chat_message(lesson, heads[lesson], str(payload["text"]))
        await sio.emit("chat.message", body, room=f"room:{lesson}")
        return {"ok": True, "data": {"id": message_id, "offset": heads[lesson]}}

    sio.on("connect", connect)
    sio.on("room.join", room_join)
    sio.on("chat.send", chat_send)
    app = web.Application()
    sio.attach(app)
    serve(app, args)


if __name__ == "__main__":
    main()
