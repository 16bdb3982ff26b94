"""The practical ceiling: a bare aiohttp WebSocket server speaking just enough Engine.IO v4 /
Socket.IO v5 (msgpack) to accept a connection, ack ``room.join`` and fan out ``chat.send``.
Run as ``python -m bench.storm.baseline_raw --port P``."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from bench.storm.baseline_common import chat_message, join_reply, parse_args, serve

CONNECT, EVENT, ACK = 0, 2, 3


def _packet(kind: int, data: Any, ack_id: int | None = None) -> bytes:
    body: dict[str, Any] = {"type": kind, "nsp": "/", "data": data}
    if ack_id is not None:
        body["id"] = ack_id
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


class RawServer:
    def __init__(self, ping_interval: float) -> None:
        self.ping_interval = ping_interval
        self.rooms: defaultdict[int, set[web.WebSocketResponse]] = defaultdict(set)
        self.heads: defaultdict[int, int] = defaultdict(int)
        self.sockets: set[web.WebSocketResponse] = set()

    async def pinger(self, _app: web.Application) -> Any:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.ping_interval)
                for ws in list(self.sockets):
                    if not ws.closed:
                        await ws.send_str("2")

        task = asyncio.create_task(beat())
        yield
        task.cancel()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        sid = secrets.token_urlsafe(12)
        opened = {
            "sid": sid,
            "upgrades": [],
            "pingInterval": int(self.ping_interval * 1000),
            "pingTimeout": 20000,
            "maxPayload": 1000000,
        }
        await ws.send_str("0" + json.dumps(opened))
        self.sockets.add(ws)
        joined: set[int] = set()
        try:
            async for message in ws:
                if message.type is WSMsgType.BINARY:
                    await self.on_packet(ws, sid, joined, msgpack.unpackb(message.data))
                elif message.type is not WSMsgType.TEXT:
                    break
        finally:
            self.sockets.discard(ws)
            for lesson in joined:
                self.rooms[lesson].discard(ws)
        return ws

    async def on_packet(
        self, ws: web.WebSocketResponse, sid: str, joined: set[int], packet: dict[str, Any]
    ) -> None:
        kind = packet.get("type")
        if kind == CONNECT:
            await ws.send_bytes(_packet(CONNECT, {"sid": sid}))
            return
        data = packet.get("data")
        if kind != EVENT or not isinstance(data, list) or len(data) < 2:
            return
        event, payload, ack_id = data[0], data[1], packet.get("id")
        lesson = int(payload.get("lesson_id", 0))
        if event == "room.join":
            self.rooms[lesson].add(ws)
            joined.add(lesson)
            reply = join_reply(lesson, sid, self.heads[lesson])
        elif event == "chat.send":
            self.heads[lesson] += 1
            message_id, body = chat_message(lesson, self.heads[lesson], str(payload["text"]))
            frame = _packet(EVENT, ["chat.message", body])  # encoded once for every member
            for member in list(self.rooms[lesson]):
                if not member.closed:
                    await member.send_bytes(frame)
            reply = {"ok": True, "data": {"id": message_id, "offset": self.heads[lesson]}}
        else:
            reply = {"ok": False, "error": {"code": "unknown_event", "message": event}}
        if ack_id is not None:
            await ws.send_bytes(_packet(ACK, [reply], ack_id))


def main() -> None:
    args = parse_args()
    server = RawServer(args.ping_interval)
    app = web.Application()
    app.router.add_get("/socket.io/", server.handle)
    app.cleanup_ctx.append(server.pinger)
    serve(app, args)


if __name__ == "__main__":
    main()
