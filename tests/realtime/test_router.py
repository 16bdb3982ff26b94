"""The event router on its own: validation, limits and error replies (no sockets)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import pytest

from realtime.codec import OversizePayload
from realtime.router import (
    Call,
    ConnectionGone,
    ConnectionLimits,
    ErrorReply,
    EventRouter,
    Rate,
)


class Greeting(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=10)]
    times: int = 1


class Refused(Exception):
    pass


def translate(exc: Exception) -> ErrorReply | None:
    return ErrorReply("refused", str(exc)) if isinstance(exc, Refused) else None


async def greet(call: Call, payload: Greeting) -> dict[str, Any]:
    if payload.name == "nobody":
        raise Refused("nobody is refused")
    if payload.name == "bug":
        raise RuntimeError("a bug")
    return {"hello": payload.name * payload.times, "from": call.principal}


@pytest.fixture
def router() -> EventRouter:
    made = EventRouter(translate_error=translate, events_per_second=1000, event_burst=1000)
    made.register("greet", Greeting, greet, rate=Rate(1, 3))
    return made


async def send(router: EventRouter, limits: ConnectionLimits, *args: Any) -> dict[str, Any]:
    return await router.dispatch(Call("sid-1", "principal-1", "greet"), args, limits)


async def test_a_valid_event_reaches_its_handler(router: EventRouter) -> None:
    reply = await send(router, router.new_limits(), {"name": "ab", "times": 2})
    assert reply == {"ok": True, "data": {"hello": "abab", "from": "principal-1"}}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"name": 5}, "Expected `str`, got `int`"),
        ({"name": "x" * 11}, "length <= 10"),
        ({"times": 2}, "missing required field `name`"),
        ({"name": "a", "extra": 1}, "unknown field `extra`"),
        ("text", "Expected `object`, got `str`"),
        ([1, 2], "Expected `object`, got `array`"),
    ],
)
async def test_wrong_payloads_get_a_clear_error(
    router: EventRouter, payload: Any, fragment: str
) -> None:
    reply = await send(router, router.new_limits(), payload)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "invalid_payload"
    assert fragment in reply["error"]["message"]


async def test_unknown_events_are_named_in_the_error(router: EventRouter) -> None:
    reply = await router.dispatch(Call("s", None, "nope"), ({},), router.new_limits())
    assert reply == {
        "ok": False,
        "error": {"code": "unknown_event", "message": "there is no event named 'nope'"},
    }


async def test_oversize_and_extra_arguments_are_refused(router: EventRouter) -> None:
    limits = router.new_limits()
    reply = await send(router, limits, OversizePayload(99_999))
    assert reply["error"]["code"] == "payload_too_large"
    reply = await send(router, limits, {"name": "a"}, {"name": "b"})
    assert reply["error"]["code"] == "invalid_payload"


async def test_domain_errors_are_translated_and_bugs_hidden(router: EventRouter) -> None:
    limits = router.new_limits()
    assert (await send(router, limits, {"name": "nobody"}))["error"] == {
        "code": "refused",
        "message": "nobody is refused",
    }
    bug = await send(router, limits, {"name": "bug"})
    assert bug["error"]["code"] == "internal"
    assert "a bug" not in bug["error"]["message"]


async def test_per_event_rate_limit_refuses_the_burst_overflow(router: EventRouter) -> None:
    limits = router.new_limits()
    replies = [await send(router, limits, {"name": "a"}) for _ in range(5)]
    assert [r["ok"] for r in replies] == [True, True, True, False, False]
    assert replies[-1]["error"]["code"] == "rate_limited"


async def test_overall_rate_limit_covers_unknown_events_too() -> None:
    router = EventRouter(events_per_second=0.001, event_burst=2)
    limits = router.new_limits()
    codes = [
        (await router.dispatch(Call("s", None, "nope"), (), limits))["error"]["code"]
        for _ in range(3)
    ]
    assert codes == ["unknown_event", "unknown_event", "rate_limited"]


def test_an_event_cannot_be_registered_twice(router: EventRouter) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        router.register("greet", Greeting, greet)


async def test_an_event_whose_connection_left_is_answered_without_an_error_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def join(call: Call, payload: Greeting) -> None:
        raise ConnectionGone("the connection closed while it joined a channel")

    router = EventRouter(events_per_second=1000, event_burst=1000)
    router.register("join", Greeting, join)
    with caplog.at_level("INFO", logger="realtime.router"):
        reply = await router.dispatch(
            Call("sid-1", "principal-1", "join"), ({"name": "x"},), router.new_limits()
        )
    assert reply["error"]["code"] == "connection_gone"
    assert [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")] == []
