"""One virtual student: connects with its token, joins its lesson with its link, follows the
room's events by offset, and comes back with ``since`` when its connection drops."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from bench.storm.plan import Arrival, ClientTuning, Seat, Target
from bench.storm.socketio_wire import AckTimeout, Refused, SocketIO
from bench.storm.tally import Tally
from bench.storm.wire import HandshakeFailed, WireClosed

CHAT_PREFIX = "storm"


def chat_text(kind: str) -> str:
    """A chat text carrying its send time, so that receivers measure delivery latency."""
    return f"{CHAT_PREFIX} {time.time():.6f} {kind}"


def failure_reason(exc: BaseException) -> str:
    if isinstance(exc, Refused):
        return f"refused:{exc.code}"
    if isinstance(exc, AckTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, HandshakeFailed):
        return f"handshake:{exc.reason}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, WireClosed | ConnectionError):
        return "closed"
    if isinstance(exc, OSError):
        return f"os:{exc.errno}"
    return type(exc).__name__


CONNECTIONS_PER_ADDRESS = 8_000
"""How many of a load worker's students connect from one address. Connections to one port
from one address each take a port of the ephemeral range (28,232 here), and Linux picks
even ports for ``connect`` first: past about half the range each new connection searches
the rest. Seen at 100,000 on six load workers: from ~14,200 connections an address (about
85,000 held) the machine's system CPU went from ~20% to 50–64% and every join slowed."""


def first_address(source: str, index: int) -> str:
    """The address the ``index``-th student of a load worker first connects from: the worker's
    own for the first ``CONNECTIONS_PER_ADDRESS``, then others of 127.1.N.0/24 (N: the last
    part of its own), apart from other workers' and from the addresses retries come from."""
    block = index // CONNECTIONS_PER_ADDRESS
    if block == 0:
        return source
    return f"127.1.{_worker_number(source)}.{block}"


def retry_address(source: str) -> str:
    """A fresh loopback address to come back from, in a /16 of the load worker's own.

    A load worker's own address holds thousands of connections to the one port. The ports
    still free on it are mostly those of attempts that failed, and they hash to the same worker
    of the shared port. Seen at 40,000: 30 of 30 probes from a load worker's address met the
    full worker, 9 of 30 from a fresh address. Real students come from many addresses.
    """
    return (
        f"127.{64 + _worker_number(source) % 192}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    )


def _worker_number(source: str) -> int:
    """N of a load worker's own address 127.0.0.N, from it or from one of its 127.1.N.k."""
    parts = source.split(".")
    return int(parts[2] if parts[1] == "1" else parts[3])


class JoinRefused(Exception):
    """``room.join`` answered with an error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Student:
    def __init__(
        self, seat: Seat, target: Target, source: str, tally: Tally, tuning: ClientTuning
    ) -> None:
        self.seat = seat
        self._target = target
        self._source = source
        self._tally = tally
        self._tuning = tuning
        self.conn: SocketIO | None = None
        self.joined = False
        self.last_offset: int | None = None
        self._offsets: set[int] = set()
        self._chat_ids: set[str] = set()
        self.got_after = False
        self.ready = asyncio.Event()  # connected and in the room
        self.kill_armed = False  # drops from now on count as the reconnect storm
        self.stopping = False

    # -- events -----------------------------------------------------------------------

    def on_event(self, name: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if name == "channel.reload":
            self._tally.reloads += 1
            return
        offset = data.get("offset")
        if isinstance(offset, int):
            self.apply(name, offset, data.get("data"))

    def apply(self, name: str, offset: int, data: Any) -> None:
        """Apply one room event once, in the documented way: by offset."""
        if offset in self._offsets:
            self._tally.wire_repeats += 1
            return
        self._offsets.add(offset)
        if self.last_offset is None or offset > self.last_offset:
            self.last_offset = offset
        if name == "chat.message" and isinstance(data, dict):
            self._take_message(data)

    def _take_message(self, data: dict[str, Any]) -> None:
        message_id = str(data.get("id"))
        if message_id in self._chat_ids:
            self._tally.duplicated += 1
            return
        self._chat_ids.add(message_id)
        parts = str(data.get("text", "")).split(" ")
        if len(parts) != 3 or parts[0] != CHAT_PREFIX:
            return
        if parts[2].startswith("c"):
            self._tally.deliveries += 1
            self._tally.delivery_ms.append((time.time() - float(parts[1])) * 1000)
        elif parts[2] == "after" and not self.got_after:
            self.got_after = True
            self._tally.after_received += 1

    # -- joining ------------------------------------------------------------------------

    async def _enter(self, since: int | None, source: str | None = None) -> None:
        conn = await SocketIO.connect(
            self._target.host,
            self._target.port_for(self.seat.lesson_id),
            {"token": self.seat.token},
            self.on_event,
            source=source or self._source,
            timeout=self._tuning.join_timeout,
        )
        payload: dict[str, Any] = {"lesson_id": self.seat.lesson_id, "link": self.seat.link}
        if since is not None:
            payload["since"] = since
        try:
            reply = await self._join(conn, payload, rejoin=since is not None)
            stream = (reply.get("data") or {}).get("stream") or {}
            room = (reply.get("data") or {}).get("room") or {}
        except BaseException:
            conn.abort()
            raise
        if stream.get("reload"):
            # The history no longer reaches back: take the room's state from the snapshot
            # (its stored messages), as the lesson page does, then continue live.
            self._tally.reloads += 1
            for message in room.get("messages") or []:
                if isinstance(message, dict) and str(message.get("id")) not in self._chat_ids:
                    self._take_message(message)
        for item in sorted(stream.get("events") or [], key=lambda e: e.get("offset", 0)):
            if isinstance(item, dict) and isinstance(item.get("offset"), int):
                self.apply(str(item.get("event")), item["offset"], item.get("data"))
        head = stream.get("offset")
        if isinstance(head, int) and (self.last_offset is None or head > self.last_offset):
            self.last_offset = head
        self.conn = conn
        self.ready.set()

    async def _join(self, conn: SocketIO, payload: dict[str, Any], *, rejoin: bool) -> Any:
        """``room.join`` on ``conn``; refused as ``overloaded``, asked again on the same
        connection after the ``retry_after`` the server gave, spread by ±20%, as the lesson
        page does, until ``join_timeout`` has passed."""
        deadline = time.monotonic() + self._tuning.join_timeout
        while True:
            left = deadline - time.monotonic()
            reply = await conn.call("room.join", payload, max(0.1, left))
            if isinstance(reply, dict) and reply.get("ok"):
                return reply
            error = reply.get("error") if isinstance(reply, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            wait = error.get("retry_after") if isinstance(error, dict) else None
            if code != "overloaded" or not isinstance(wait, (int, float)):
                raise JoinRefused(str(code or "bad_reply"))
            wait = max(0.5, float(wait)) * random.uniform(0.8, 1.2)
            if time.monotonic() + wait >= deadline:
                raise JoinRefused("overloaded")
            if rejoin:
                self._tally.rejoin_waits += 1
            else:
                self._tally.join_waits += 1
            await asyncio.sleep(wait)

    async def arrive(self, arrival: Arrival, started_at: float) -> None:
        """The first join, timed from the scheduled arrival (open loop)."""
        scheduled = started_at + arrival.at
        try:
            await self._enter(None)
        except JoinRefused as exc:
            self._tally.failed[f"join:{exc.code}"] += 1
            return
        except Exception as exc:
            self._tally.failed[failure_reason(exc)] += 1
            return
        self.joined = True
        self._tally.joined += 1
        self._tally.join_samples.append((arrival.at, (time.time() - scheduled) * 1000))
        await self._stay()

    async def _stay(self) -> None:
        """Hold the connection; come back with ``since`` whenever it drops."""
        while not self.stopping:
            assert self.conn is not None
            await self.conn.closed.wait()
            self.ready.clear()
            if self.stopping:
                return
            if self.kill_armed:
                self._tally.dropped += 1
            else:
                self._tally.drops_before_kill += 1
            await self._come_back()

    async def _come_back(self) -> None:
        attempt = 0
        while not self.stopping:
            ceiling = min(self._tuning.backoff_cap, self._tuning.backoff_base * 2**attempt)
            await asyncio.sleep(random.uniform(0, ceiling))
            try:
                await self._enter(self.last_offset, retry_address(self._source))
            except JoinRefused as exc:
                self._tally.reconnect_errors[f"join:{exc.code}"] += 1
            except Exception as exc:
                self._tally.reconnect_errors[failure_reason(exc)] += 1
            else:
                if self.kill_armed:
                    self._tally.resumed += 1
                    self._tally.last_back_at = time.time()
                return
            attempt += 1

    # -- sending ------------------------------------------------------------------------

    async def send_chat(self, kind: str, client_id: str, attempts: int = 20) -> bool:
        """One chat message; resent with the same ``client_id`` (so the server keeps it once)
        after a drop, a timeout or an error reply, as a real client would."""
        for attempt in range(attempts):
            if self.stopping:
                return False
            await self.ready.wait()
            assert self.conn is not None
            payload = {
                "lesson_id": self.seat.lesson_id,
                "text": chat_text(kind),
                "client_id": client_id,
            }
            try:
                reply = await self.conn.call("chat.send", payload, self._tuning.join_timeout)
            except Exception as exc:
                self._tally.chat_failed[failure_reason(exc)] += 1
            else:
                if isinstance(reply, dict) and reply.get("ok"):
                    return True
                error = reply.get("error") if isinstance(reply, dict) else None
                code = error.get("code") if isinstance(error, dict) else None
                self._tally.chat_failed[str(code or "bad_reply")] += 1
            await asyncio.sleep(random.uniform(0, min(5.0, 0.5 * 2**attempt)))
        return False

    async def leave(self, timeout: float) -> bool:
        """Leave for good (the lesson is over): close the connection as a browser leaving
        the page does; ``False`` if the student was not connected."""
        self.stopping = True
        conn = self.conn
        connected = conn is not None and self.ready.is_set() and not conn.closed.is_set()
        self.ready.set()  # a send waiting for the connection gives up (stopping)
        if conn is None or not connected:
            return False
        await conn.leave(timeout)
        return True

    def close(self) -> None:
        self.stopping = True
        self.ready.set()
        if self.conn is not None:
            self.conn.abort()
