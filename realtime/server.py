"""The Socket.IO server: authenticated connections, routed events, resumable channels.

A connection attaches to channels (``room:<lesson>``, ``user:<person>``). This node
subscribes to a channel on the bus only while it has a local member there. Each channel
event carries its offset; a client that attaches with the last offset it saw receives
exactly the events it missed, or is told to reload when the history no longer reaches back.
Members connected while the bus lost a channel's events (a Redis restart) are told to reload
by a ``channel.reload`` event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import socketio
from aiohttp import web
from engineio import packet as eio_packet

from realtime import codec
from realtime.bus import Bus
from realtime.front_door import FrontDoor
from realtime.lean_engineio import LeanSocket, LeanSocketIOServer, websocket_frame
from realtime.router import (
    WIRE_TYPES,
    Call,
    ConnectionGone,
    ConnectionLimits,
    ErrorReply,
    EventRouter,
)
from realtime.socket_manager import SocketManager

log = logging.getLogger(__name__)

Authenticator = Callable[[Any], Awaitable[Any]]
"""Turns the client's ``auth`` payload into a principal or raises; the error is translated."""

DisconnectHook = Callable[[str, Any], Awaitable[None]]

RECENT_EVENTS_PER_CHANNEL = 512
NODE_EVENT_PREFIX = "node."
"""Events named so are for the nodes alone (``heard``): members neither get nor replay them."""
ERROR_EVENT = "server.error"
RELOAD_EVENT = "channel.reload"
EVICT_EVENT = "channel.evict"
DISCONNECTS_GRACE = 10.0
"""Seconds ``close`` waits for disconnects under way (their hooks use the bus and the
database, which close after it)."""
"""Published with ``{"member": key}``: every node detaches its members with that key."""

MemberKey = Callable[[Any], str]
"""Names the person behind a connection's principal, for eviction."""

Listener = Callable[[str, Any], None]
"""Receives ``(event, data)`` of a channel this node listens to (``RELOAD_EVENT`` with
``None`` when the bus lost some of its events)."""


class ChannelEvent(msgspec.Struct, frozen=True):
    """One event as a client receives it, live or replayed."""

    event: str
    offset: int
    data: Any


class AttachResult(msgspec.Struct, frozen=True):
    """What attaching to a channel returns: the events missed since the given offset.

    ``reload`` means the history no longer reaches back: the client must reload the full
    state and continue from ``offset``.
    """

    channel: str
    offset: int
    reload: bool
    events: list[ChannelEvent]


@dataclass(slots=True)
class _Connection:
    sid: str
    eio_sid: str
    principal: Any
    limits: ConnectionLimits
    channels: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Channel:
    """A channel this node is subscribed to: local members and the events seen lately."""

    members: dict[str, str] = field(default_factory=dict)  # sid -> eio_sid
    recent: deque[tuple[int, str, Any, Any]] = field(
        default_factory=lambda: deque(maxlen=RECENT_EVENTS_PER_CHANNEL)
    )
    attaching: int = 0
    last_offset: int = 0
    earlier_read: bool = False  # ``recent`` also holds events from before the subscription


class RealtimeServer:
    """python-socketio on aiohttp, msgpack only, WebSocket only, with lean Engine.IO sockets
    (``realtime.lean_engineio``)."""

    def __init__(
        self,
        *,
        router: EventRouter,
        authenticate: Authenticator,
        translate_error: Callable[[Exception], ErrorReply | None],
        max_event_bytes: int = 16 * 1024,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        cors_allowed_origins: str | list[str] | None = None,
        member_key: MemberKey | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.router = router
        self._member_key = member_key
        self._authenticate = authenticate
        self._translate = translate_error
        self.bus: Bus | None = None
        self.sio = LeanSocketIOServer(
            client_manager=SocketManager(),
            async_mode="aiohttp",
            serializer=codec.packet_class(max_event_bytes),
            transports=["websocket"],
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            # A hard cap far above the event bound: larger frames close the connection.
            max_http_buffer_size=max(max_event_bytes * 8, 1 << 20),
            cors_allowed_origins=cors_allowed_origins or [],
            logger=False,
            engineio_logger=False,
        )
        self.sio.eio.connection_ceiling = max_connections
        self._path = "/socket.io/"
        self._connections: dict[str, _Connection] = {}
        self._channels: dict[str, _Channel] = {}
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._disconnect_hooks: list[DisconnectHook] = []
        self._disconnecting = 0
        self._closed = False
        self._no_disconnects = asyncio.Event()
        self._no_disconnects.set()
        self._listeners: dict[str, Listener] = {}
        self._listened: dict[str, int] = {}
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)

    # -- wiring -----------------------------------------------------------------------

    def attach_to(self, app: web.Application, path: str = "/socket.io/") -> None:
        self.sio.attach(app, socketio_path=path)
        self._path = path

    def front_door(self) -> FrontDoor:
        """A front door for the listening sites: serves this server's new WebSockets below
        aiohttp (``realtime.front_door``)."""
        return FrontDoor(self.sio.eio, self._path)

    def use_bus(self, bus: Bus) -> None:
        self.bus = bus

    def is_connected(self, sid: str) -> bool:
        """Whether the connection is still open on this node."""
        return sid in self._connections

    def on_disconnect(self, hook: DisconnectHook) -> None:
        self._disconnect_hooks.append(hook)

    async def listen(self, channel: str, listener: Listener) -> None:
        """Receive a channel's events on this node itself, members or not (node-wide
        notices such as "forget what you know of this lesson")."""
        self._listeners[channel] = listener
        self._listened[channel] = 0
        await self._require_bus().subscribe(channel)

    async def deliver(self, channel: str, offset: int, payload: bytes) -> None:
        """The bus's message handler: fan one event out to this node's members."""
        listener = self._listeners.get(channel)
        if listener is not None:
            self._hear(listener, channel, offset, payload)
            return
        state = self._channels.get(channel)
        if state is None or offset <= state.last_offset:
            return
        event, data = codec.decode(payload)
        if state.last_offset and offset != state.last_offset + 1:
            # The bus lost the events in between: members must reload the full state.
            log.warning("channel %s jumped from %d to %d", channel, state.last_offset, offset)
            notice = self._frame(RELOAD_EVENT, {"channel": channel, "offset": offset})
            await self._send_to_members(state, notice)
        state.last_offset = offset
        if event.startswith(NODE_EVENT_PREFIX):
            state.recent.append((offset, event, data, None))
            return
        frame = self._frame(event, {"channel": channel, "offset": offset, "data": data})
        state.recent.append((offset, event, data, frame))
        await self._send_to_members(state, frame)
        if event == EVICT_EVENT and isinstance(data, dict):
            await self._evict(channel, state, data.get("member"))

    def _hear(self, listener: Listener, channel: str, offset: int, payload: bytes) -> None:
        last = self._listened.get(channel, 0)
        if offset <= last:
            return
        self._listened[channel] = offset
        if last and offset != last + 1:
            listener(RELOAD_EVENT, None)  # events in between were lost
        try:
            event, data = codec.decode(payload)
        except Exception:
            log.exception("undecodable event on %s", channel)
            listener(RELOAD_EVENT, None)
            return
        listener(event, data)

    async def _evict(self, channel: str, state: _Channel, member: Any) -> None:
        if self._member_key is None or not isinstance(member, str):
            return
        for sid in list(state.members):
            connection = self._connections.get(sid)
            if connection is not None and self._member_key(connection.principal) == member:
                await self.detach(sid, channel)

    async def _send_to_members(self, state: _Channel, frame: eio_packet.Packet) -> None:
        # A snapshot taken before the first await: members attaching later get the event
        # from ``recent`` instead, so nobody receives it twice or not at all.
        wire = websocket_frame(frame.encode())  # the same bytes for every member
        sockets = self.sio.eio.sockets
        for eio_sid in list(state.members.values()):
            socket = sockets.get(eio_sid)
            if socket is None:
                continue
            if not (isinstance(socket, LeanSocket) and socket.write_frame(wire)):
                await self.sio.eio.send_packet(eio_sid, frame)

    def _frame(self, event: str, data: Any) -> eio_packet.Packet:
        """An event encoded once, ready to be sent as is to any number of connections."""
        pkt = self.sio.packet_class(socketio.packet.EVENT, namespace="/", data=[event, data])
        return eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())

    # -- channels ---------------------------------------------------------------------

    async def publish(self, channel: str, event: str, data: Any) -> int:
        """Publish an event to every member of a channel on every node; return its offset."""
        wire = msgspec.to_builtins(data, builtin_types=WIRE_TYPES)
        return await self._require_bus().publish(channel, codec.encode([event, wire]))

    async def publish_once(self, channel: str, event: str, data: Any, key: str) -> tuple[int, bool]:
        """Publish as ``publish`` unless an event with this key was published on the channel
        lately; its offset and whether this call published it (see ``Bus.publish_once``)."""
        wire = msgspec.to_builtins(data, builtin_types=WIRE_TYPES)
        return await self._require_bus().publish_once(channel, codec.encode([event, wire]), key)

    def _lock(self, channel: str) -> asyncio.Lock:
        lock = self._channel_locks.get(channel)
        if lock is None:
            lock = self._channel_locks[channel] = asyncio.Lock()
        return lock

    async def attach(
        self, sid: str, channel: str, since: int | None, *, earlier: int = 0
    ) -> AttachResult:
        """Make a connection a member of a channel and return what it missed since ``since``.

        ``since=None`` means a first join: nothing is replayed. ``earlier``: how many of the
        channel's events from before this node subscribed to it to read from the bus once,
        so that ``heard`` holds them too.
        """
        connection = self._connections.get(sid)
        if connection is None:
            raise ConnectionGone("the connection closed while it joined a channel")
        bus = self._require_bus()
        async with self._lock(channel):
            state = self._channels.get(channel)
            if state is None:
                state = self._channels[channel] = _Channel()
                await bus.subscribe(channel)
                # The bus may already have events we did not see; start from its head.
                state.last_offset = max(state.last_offset, await bus.head(channel))
            if earlier > 0 and not state.earlier_read:
                await self._read_earlier(channel, state, earlier)
            state.attaching += 1
        try:
            if since is None or since < 0:
                # A first join replays nothing: it receives every event after the last one
                # this node saw (the node's subscription carries all of them), so the bus
                # need not be asked for its head.
                history_head = state.last_offset
                replay: list[ChannelEvent] = []
                complete = True
            else:
                history = await bus.history(channel, since)
                history_head = max((e.offset for e in history.events), default=since)
                if not history.complete:
                    history_head = history.head
                complete = history.complete
                replay = []
                if complete:
                    for item in history.events:
                        event, data = codec.decode(item.payload)
                        replay.append(ChannelEvent(event=event, offset=item.offset, data=data))
        finally:
            state.attaching -= 1
        # No await from here on: events seen by this node after the history was read are
        # taken from ``recent``; events arriving later reach the new member live.
        newer = [entry for entry in state.recent if entry[0] > history_head]
        expected = [history_head + 1 + n for n in range(len(newer))]
        if [entry[0] for entry in newer] != expected:
            # The recent buffer overflowed while the history was read, or the bus jumped.
            complete = False
        for offset, event, data, _frame in newer:
            replay.append(ChannelEvent(event=event, offset=offset, data=data))
        if connection.sid not in self._connections:
            raise ConnectionGone("the connection closed while it joined a channel")
        state.members[sid] = connection.eio_sid
        connection.channels.add(channel)
        offset = replay[-1].offset if replay else history_head
        replay = [e for e in replay if not e.event.startswith(NODE_EVENT_PREFIX)]
        if not complete:
            return AttachResult(
                channel=channel,
                offset=offset,
                reload=True,
                events=[e for e in replay if e.offset > history_head],
            )
        return AttachResult(channel=channel, offset=offset, reload=False, events=replay)

    async def _read_earlier(self, channel: str, state: _Channel, count: int) -> None:
        history = await self._require_bus().history(
            channel, max(0, state.last_offset - count), limit=count
        )
        state.earlier_read = True
        known = {entry[0] for entry in state.recent}
        earlier: list[tuple[int, str, Any, Any]] = []
        for item in history.events:
            if item.offset in known or item.offset > state.last_offset:
                continue
            try:
                event, data = codec.decode(item.payload)
            except Exception:
                log.exception("undecodable event on %s", channel)
                continue
            earlier.append((item.offset, event, data, None))
        if earlier:
            # Read while live events may have arrived: kept in the order of their offsets.
            merged = sorted([*earlier, *state.recent], key=lambda entry: entry[0])
            state.recent.clear()
            state.recent.extend(merged)

    def heard(self, channel: str, upto: int) -> list[tuple[int, str, Any]]:
        """The channel's latest events that this node saw (at most
        ``RECENT_EVENTS_PER_CHANNEL``, with those ``attach`` read from before it subscribed)
        up to offset ``upto``, oldest first, as ``(offset, event, data)``."""
        state = self._channels.get(channel)
        if state is None:
            return []
        return [(offset, event, data) for offset, event, data, _ in state.recent if offset <= upto]

    def heard_between(
        self, channel: str, after: int, upto: int
    ) -> list[tuple[int, str, Any]] | None:
        """Every event of the channel after offset ``after`` up to ``upto``, as ``heard``
        gives them, or ``None`` if this node cannot tell that it saw every one."""
        state = self._channels.get(channel)
        if state is None or not 0 <= upto - after <= len(state.recent):
            return None
        events = [
            (offset, event, data)
            for offset, event, data, _ in state.recent
            if after < offset <= upto
        ]
        if [entry[0] for entry in events] != list(range(after + 1, upto + 1)):
            return None
        return events

    async def detach(self, sid: str, channel: str) -> None:
        """Remove a member; unsubscribe the node when it was the channel's last one here."""
        connection = self._connections.get(sid)
        if connection is not None:
            connection.channels.discard(channel)
        state = self._channels.get(channel)
        if state is None:
            return
        state.members.pop(sid, None)
        if state.members or state.attaching:
            return
        async with self._lock(channel):
            if self._channels.get(channel) is state and not state.members and not state.attaching:
                del self._channels[channel]
                await self._require_bus().unsubscribe(channel)
                self._channel_locks.pop(channel, None)

    def members(self, channel: str) -> set[str]:
        state = self._channels.get(channel)
        return set(state.members) if state else set()

    def principal_of(self, sid: str) -> Any:
        connection = self._connections.get(sid)
        return None if connection is None else connection.principal

    @property
    def local_channels(self) -> frozenset[str]:
        return frozenset(self._channels)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    @property
    def connection_ceiling(self) -> int | None:
        """Connections this node holds at most; more are refused with 503."""
        ceiling: int | None = self.sio.eio.connection_ceiling
        return ceiling

    @property
    def refused_at_ceiling(self) -> int:
        """New connections refused because the node held its ceiling."""
        refused: int = self.sio.eio.refused_at_ceiling
        return refused

    def _require_bus(self) -> Bus:
        if self.bus is None:
            raise RuntimeError("the realtime server has no bus")
        return self.bus

    # -- Socket.IO handlers -----------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            principal = await self._authenticate(token)
        except Exception as exc:
            reply = self._translate(exc) or ErrorReply("unauthenticated", "connection refused")
            raise socketio.exceptions.ConnectionRefusedError(
                reply.message, {"code": reply.code, "message": reply.message}
            ) from exc
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        self._connections[sid] = _Connection(sid, eio_sid, principal, self.router.new_limits())
        _forget_headers(environ)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        connection = self._connections.pop(sid, None)
        if connection is None:
            return
        self._disconnecting += 1
        self._no_disconnects.clear()
        try:
            await self._leave_everything(sid, connection)
        finally:
            self._disconnecting -= 1
            if not self._disconnecting:
                self._no_disconnects.set()

    async def _leave_everything(self, sid: str, connection: _Connection) -> None:
        for channel in list(connection.channels):
            try:
                await self.detach(sid, channel)
            except Exception:  # the hooks below (attendance, notices) must run all the same
                log.exception("leaving a channel on disconnect failed")
        for hook in self._disconnect_hooks:
            try:
                await hook(sid, connection.principal)
            except Exception:
                log.exception("disconnect hook failed")

    async def _on_event(self, event: Any, sid: str, *args: Any) -> dict[str, Any]:
        connection = self._connections.get(sid)
        if connection is None:
            return ErrorReply("not_connected", "the connection is not authenticated").as_reply()
        name = event if isinstance(event, str) else "?"
        reply = await self.router.dispatch(
            Call(sid, connection.principal, name), args, connection.limits
        )
        if not reply["ok"]:
            await self.sio.emit(ERROR_EVENT, {"event": name[:64], **reply["error"]}, to=sid)
        return reply

    async def close(self) -> None:
        """Close every client connection and stop background tasks (used on shutdown; a
        second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        # Not ``eio.disconnect()``: it waits for each socket's send queue to drain, which
        # never happens for a client that is going away at the same moment.
        for socket in list(self.sio.eio.sockets.values()):
            await socket.close(wait=False, reason=self.sio.eio.reason.SERVER_DISCONNECT)
        self.sio.eio.sockets.clear()
        # Clients that left just before (all of a load test's at once) are still being
        # disconnected in tasks of their own; their hooks need the bus and the database.
        await asyncio.sleep(0)
        try:
            await asyncio.wait_for(self._no_disconnects.wait(), DISCONNECTS_GRACE)
        except TimeoutError:
            log.warning("%d disconnects still under way at shutdown", self._disconnecting)
        await self.sio.shutdown()


def _forget_headers(environ: dict[str, Any]) -> None:
    """Empty a connected socket's request environment (its headers as a WSGI dict, held for
    the connection's lifetime by the Engine.IO and Socket.IO layers: about 1 KB each),
    keeping the request object the socket reads from."""
    request = environ.get("aiohttp.request")
    environ.clear()
    if request is not None:
        environ["aiohttp.request"] = request
