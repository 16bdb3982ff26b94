"""The event router: name → handler, payload validation, rate limits, error replies.

Every inbound Socket.IO event goes through ``EventRouter.dispatch``. A reply is always a
map: ``{"ok": true, "data": …}`` or ``{"ok": false, "error": {"code": …, "message": …}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec

from realtime.codec import OversizePayload
from realtime.ratelimit import TokenBucket

log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT")
WIRE_TYPES = (bytes, bytearray)
"""Types msgpack carries as they are; everything else is turned into builtins first."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What a failed event tells the client."""

    code: str
    message: str
    details: dict[str, Any] | None = None

    def as_reply(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error.update(self.details)
        return {"ok": False, "error": error}


class EventError(Exception):
    """Raised by transport-level handlers to refuse an event with a code and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.reply = ErrorReply(code, message)


class ConnectionGone(ConnectionError):
    """The connection closed while one of its events ran: there is nobody left to answer,
    and nothing failed on the server's side."""


@dataclass(slots=True)
class Call:
    """One inbound event: who sent it and on which connection."""

    sid: str
    principal: Any
    event: str


Handler = Callable[[Call, Any], Awaitable[Any]]
ErrorTranslator = Callable[[Exception], ErrorReply | None]


@dataclass(frozen=True, slots=True)
class Rate:
    """A per-connection limit for one event: ``per_second`` on average, ``burst`` at once."""

    per_second: float
    burst: float


@dataclass(slots=True)
class Route(Generic[PayloadT]):
    name: str
    payload_type: type[PayloadT]
    handler: Callable[[Call, PayloadT], Awaitable[Any]]
    rate: Rate | None
    summary: str
    own_budget: bool = False


@dataclass(slots=True)
class ConnectionLimits:
    """Rate state of one connection: an overall bucket and one per rate-limited event."""

    overall: TokenBucket
    per_event: dict[str, TokenBucket] = field(default_factory=dict)


class EventRouter:
    """Maps event names to validated handlers; the one place errors become replies."""

    def __init__(
        self,
        *,
        translate_error: ErrorTranslator | None = None,
        events_per_second: float = 20.0,
        event_burst: float = 40.0,
    ) -> None:
        self._routes: dict[str, Route[Any]] = {}
        self._gate: Callable[[Call], None] | None = None
        self._translate = translate_error
        self._events_per_second = events_per_second
        self._event_burst = event_burst

    def register(
        self,
        name: str,
        payload_type: type[PayloadT],
        handler: Callable[[Call, PayloadT], Awaitable[Any]],
        *,
        rate: Rate | None = None,
        summary: str = "",
        own_budget: bool = False,
    ) -> None:
        """Route ``name`` to ``handler`` after converting the payload to ``payload_type``.

        An event with ``own_budget`` (a stream, such as ink while drawing) is limited by its
        own ``rate`` only and does not use up the connection's overall budget.
        """
        if name in self._routes:
            raise ValueError(f"event {name!r} is registered twice")
        if own_budget and rate is None:
            raise ValueError("an event with its own budget needs a rate")
        self._routes[name] = Route(name, payload_type, handler, rate, summary, own_budget)

    def gate(self, check: Callable[[Call], None]) -> None:
        """Run ``check`` before every handler; it refuses a call by raising."""
        self._gate = check

    @property
    def routes(self) -> dict[str, Route[Any]]:
        return dict(self._routes)

    def new_limits(self) -> ConnectionLimits:
        return ConnectionLimits(TokenBucket(self._events_per_second, self._event_burst))

    async def dispatch(
        self, call: Call, args: tuple[Any, ...], limits: ConnectionLimits
    ) -> dict[str, Any]:
        """Validate, rate-limit and run one event; never raises."""
        try:
            result = await self._run(call, args, limits)
            return {"ok": True, "data": msgspec.to_builtins(result, builtin_types=WIRE_TYPES)}
        except EventError as exc:
            return exc.reply.as_reply()
        except ConnectionGone as exc:
            log.debug("event %s: %s", call.event, exc)
            return ErrorReply("connection_gone", str(exc)).as_reply()
        except Exception as exc:
            reply = self._translate(exc) if self._translate else None
            if reply is None:
                log.exception("event %s failed", call.event)
                reply = ErrorReply("internal", "the server failed to handle this event")
            return reply.as_reply()

    async def _run(self, call: Call, args: tuple[Any, ...], limits: ConnectionLimits) -> Any:
        route = self._routes.get(call.event)
        if (route is None or not route.own_budget) and not limits.overall.take():
            raise EventError("rate_limited", "too many events: slow down")
        if route is None:
            raise EventError("unknown_event", f"there is no event named {call.event[:64]!r}")
        if self._gate is not None:
            self._gate(call)
        if route.rate is not None:
            bucket = limits.per_event.get(route.name)
            if bucket is None:
                bucket = TokenBucket(route.rate.per_second, route.rate.burst)
                limits.per_event[route.name] = bucket
            if not bucket.take():
                raise EventError("rate_limited", f"too many {route.name!r} events: slow down")
        if len(args) > 1:
            raise EventError("invalid_payload", "an event takes one payload argument")
        raw = args[0] if args else None
        if isinstance(raw, OversizePayload):
            raise EventError("payload_too_large", f"the payload of {raw.size} bytes is too large")
        if raw is None:
            raw = {}
        try:
            payload = msgspec.convert(raw, route.payload_type, strict=True)
        except msgspec.ValidationError as exc:
            raise EventError("invalid_payload", str(exc)) from exc
        return await route.handler(call, payload)
