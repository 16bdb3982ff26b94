"""The Socket.IO server over real loopback WebSockets: auth, rooms, chat, resume, bad input."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import msgpack
import pytest
import redis.asyncio as aioredis
import socketio

from classroom.roles import Principal, Role
from classroom.tokens import TokenService
from presence import visits
from tests.clients import (
    LiveClient,
    enter,
    get_json,
    lesson_now,
    login,
    seat,
    seated_client,
)
from tests.conftest import TEST_SECRET, LiveServer, ServerFactory
from web.services import SERVICES_KEY


async def connected(server: LiveServer, clients: list[LiveClient], username: str) -> LiveClient:
    client = LiveClient()
    clients.append(client)
    await client.connect(server.url, await login(server.url, username))
    return client


async def a_lesson_now(server: LiveServer) -> int:
    return await lesson_now(server.app[SERVICES_KEY].db)


async def start_lesson(server: LiveServer, clients: list[LiveClient]) -> int:
    """The teacher enters a lesson going on now, so that it is live; return its id."""
    lesson = await a_lesson_now(server)
    teacher, place = await seated_client(server.url, "teacher", lesson, clients)
    reply = await enter(teacher, place)
    assert reply["ok"], reply
    return lesson


async def student_in(
    server: LiveServer,
    clients: list[LiveClient],
    username: str,
    lesson: int,
    since: int | None = None,
) -> tuple[LiveClient, Any]:
    """A student entered from their join link; returns the client and the join reply."""
    client, place = await seated_client(server.url, username, lesson, clients)
    reply = await enter(client, place, since=since)
    assert reply["ok"], reply
    return client, reply["data"]


async def refused_reason(server: LiveServer, token: str | None) -> Any:
    client = LiveClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.url, token)
    (reason,) = client.connect_errors
    return reason


async def test_connections_without_a_valid_token_are_refused(live_server: LiveServer) -> None:
    expired = TokenService(TEST_SECRET, 60).issue(
        Principal(1, Role.ADMIN, 1), now=time.time() - 3600
    )
    forged = TokenService("someone-elses-secret-0123456789-abcdefgh", 60).issue(
        Principal(1, Role.ADMIN, 1)
    )
    for token, code in (
        (None, "token_missing"),
        (forged, "token_invalid"),
        (expired, "token_expired"),
        ("garbage", "token_invalid"),
    ):
        reason = await refused_reason(live_server, token)
        assert reason["data"]["code"] == code
        assert reason["message"] == reason["data"]["message"]


async def test_chat_reaches_every_member_of_the_room(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    lesson = await start_lesson(live_server, clients)
    student, joined = await student_in(live_server, clients, "student", lesson)
    classmate, _ = await student_in(live_server, clients, "student-5a-02", lesson)
    assert joined["stream"]["channel"] == f"room:{lesson}"
    assert joined["room"]["status"]["state"] == "live"
    sent = await student.call("chat.send", {"lesson_id": lesson, "text": "Привет, класс!"})
    assert sent["ok"] is True
    for client in (student, classmate):
        (message,) = await client.wait_for("chat.message")
        assert message["channel"] == f"room:{lesson}"
        assert message["offset"] == sent["data"]["offset"]
        assert message["data"]["text"] == "Привет, класс!"
        assert message["data"]["author"]["role"] == "student"


async def test_outsiders_cannot_enter_or_write(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    lesson = await start_lesson(live_server, clients)
    outsider = await connected(live_server, clients, "student-7v-01")
    reply = await outsider.call("room.join", {"lesson_id": lesson})
    assert reply["error"]["code"] == "not_a_participant"
    reply = await outsider.call("chat.send", {"lesson_id": lesson, "text": "hi"})
    assert reply["error"]["code"] == "not_in_room"
    reply = await outsider.call("room.join", {"lesson_id": 987654321})
    assert reply["error"]["code"] == "lesson_not_found"


async def test_a_reconnecting_client_gets_exactly_what_it_missed(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    lesson = await start_lesson(live_server, clients)
    writer, _ = await student_in(live_server, clients, "student", lesson)
    reader, joined = await student_in(live_server, clients, "student-5a-03", lesson)
    await writer.call("chat.send", {"lesson_id": lesson, "text": "before"})
    (before,) = await reader.wait_for("chat.message")
    last_seen = before["offset"]
    assert last_seen == joined["stream"]["offset"] + 1
    await reader.close()

    missed = [f"missed {n}" for n in range(3)]  # chat allows a burst of 5 per connection
    for text in missed:
        assert (await writer.call("chat.send", {"lesson_id": lesson, "text": text}))["ok"]

    back, resumed = await student_in(live_server, clients, "student-5a-03", lesson, since=last_seen)
    assert resumed["stream"]["reload"] is False
    replayed = resumed["stream"]["events"]
    assert [e["data"]["text"] for e in replayed] == missed
    assert [e["offset"] for e in replayed] == list(range(last_seen + 1, last_seen + 4))
    assert resumed["stream"]["offset"] == last_seen + 3
    history = [m["text"] for m in resumed["room"]["messages"]]
    assert history == ["before", *missed], "the chat history comes with the room"

    await writer.call("chat.send", {"lesson_id": lesson, "text": "after"})
    (live,) = await back.wait_for("chat.message")
    assert live["data"]["text"] == "after"
    assert live["offset"] == last_seen + 4
    await asyncio.sleep(0.2)
    assert len(back.received["chat.message"]) == 1  # nothing replayed twice


async def test_notes_for_the_nodes_reach_no_member_live_or_replayed(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    """A private message is announced to the nodes on the room's channel; members see the
    offset move on, never the note."""
    lesson = await start_lesson(live_server, clients)
    teacher = clients[0]
    reader, joined = await student_in(live_server, clients, "student", lesson)
    present, addressee = await student_in(live_server, clients, "student-5a-02", lesson)
    since = joined["stream"]["offset"]
    await reader.close()
    private = {"lesson_id": lesson, "text": "лично", "to": addressee["room"]["me"]["id"]}
    assert (await teacher.call("chat.send", private))["ok"]
    sent = await teacher.call("chat.send", {"lesson_id": lesson, "text": "всем"})
    assert sent["data"]["offset"] == since + 2, "the note took an offset of the room"
    (everyone,) = await present.wait_for("chat.message")  # after the note, in order
    assert everyone["offset"] == since + 2
    assert not any(event.startswith("node.") for event in present.received)

    back, resumed = await student_in(live_server, clients, "student", lesson, since=since)
    assert resumed["stream"]["reload"] is False
    assert [(e["event"], e["offset"]) for e in resumed["stream"]["events"]] == [
        ("chat.message", since + 2)
    ]
    assert resumed["stream"]["offset"] == since + 2
    await teacher.call("chat.send", {"lesson_id": lesson, "text": "ещё"})
    (live,) = await back.wait_for("chat.message")
    assert live["offset"] == since + 3
    assert not any(event.startswith("node.") for event in back.received)


async def test_a_client_that_saw_an_empty_channel_resumes_without_a_reload(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    lesson = await start_lesson(live_server, clients)
    teacher = clients[0]
    student, joined = await student_in(live_server, clients, "student", lesson)
    attached = await student.call("notices.join", {})
    assert attached["ok"] and attached["data"]["events"] == [], "nothing personal yet"
    empty_at = attached["data"]["offset"]
    await student.close()

    student_id = joined["room"]["me"]["id"]
    sent = await teacher.call("chat.send", {"lesson_id": lesson, "text": "лично", "to": student_id})
    assert sent["ok"], sent
    back = await connected(live_server, clients, "student")
    resumed = await back.call("notices.join", {"since": empty_at})
    assert resumed["data"]["reload"] is False
    assert [e["data"]["text"] for e in resumed["data"]["events"]] == ["лично"]
    assert resumed["data"]["events"][0]["offset"] == empty_at + 1


async def test_a_client_too_far_behind_is_told_to_reload(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(bus_history=3)
    lesson = await start_lesson(server, clients)
    writer, _ = await student_in(server, clients, "student", lesson)
    offsets = []
    for n in range(5):
        sent = await writer.call("chat.send", {"lesson_id": lesson, "text": f"m{n}"})
        assert sent["ok"], sent
        offsets.append(sent["data"]["offset"])
    late, place = await seated_client(server.url, "student-5a-04", lesson, clients)
    reply = await enter(late, place, since=offsets[0])
    assert reply["data"]["stream"]["reload"] is True
    assert reply["data"]["stream"]["offset"] == offsets[-1]
    reply = await enter(late, place, since=offsets[-1] + 999)
    assert reply["data"]["stream"]["reload"] is True
    reply = await enter(late, place, since=offsets[1])
    assert reply["data"]["stream"]["reload"] is False
    assert [e["data"]["text"] for e in reply["data"]["stream"]["events"]] == ["m2", "m3", "m4"]


async def test_members_are_told_to_reload_when_redis_loses_the_room(
    # The prefix first: fixtures end in reverse order, so its keys are deleted after the
    # clients and the server are gone (their leaving publishes presence changes).
    redis_prefix: str,
    redis_url: str,
    custom_server: ServerFactory,
    clients: list[LiveClient],
) -> None:
    server = await custom_server(bus_url=redis_url, bus_prefix=redis_prefix)
    lesson = await start_lesson(server, clients)
    writer, _ = await student_in(server, clients, "student", lesson)
    reader, _ = await student_in(server, clients, "student-5a-03", lesson)
    before = await writer.call("chat.send", {"lesson_id": lesson, "text": "before"})
    await reader.wait_for("chat.message")
    admin = aioredis.Redis.from_url(redis_url)
    try:  # what a Redis restart without persistence does to the room
        await admin.delete(*await admin.keys(f"{redis_prefix}*room:{lesson}"))
    finally:
        await admin.aclose()
    after = await writer.call("chat.send", {"lesson_id": lesson, "text": "after"})
    assert after["data"]["offset"] > before["data"]["offset"] + 1
    (notice,) = await reader.wait_for("channel.reload")
    assert notice == {"channel": f"room:{lesson}", "offset": after["data"]["offset"]}
    messages = await reader.wait_for("chat.message", count=2)
    assert [m["data"]["text"] for m in messages] == ["before", "after"]
    arrived = [name for name in reader.order if name in {"chat.message", "channel.reload"}]
    assert arrived == ["chat.message", "channel.reload", "chat.message"]


async def test_notices_channel_is_personal(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    parent = await connected(live_server, clients, "parent")
    other = await connected(live_server, clients, "parent-7v-05")
    for client in (parent, other):
        assert (await client.call("notices.join", {}))["ok"]
    me = await get_json(live_server.url, "/api/me", await login(live_server.url, "parent"))
    realtime = live_server.app[SERVICES_KEY].realtime
    await realtime.publish(f"user:{me['id']}", "notice", {"kind": "test"})
    (notice,) = await parent.wait_for("notice")
    assert notice["data"] == {"kind": "test"}
    await asyncio.sleep(0.2)
    assert other.received["notice"] == []


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("no.such.event", {}, "unknown_event"),
        ("room.join", {"lesson_id": "one"}, "invalid_payload"),
        ("room.join", {"lesson_id": -5}, "invalid_payload"),
        ("room.join", {"lesson": 1}, "invalid_payload"),
        ("room.join", [1, 2], "invalid_payload"),
        ("chat.send", {"lesson_id": 1, "text": ""}, "invalid_payload"),
        ("chat.send", {"lesson_id": 1, "text": "x" * 3000}, "invalid_payload"),
        ("room.join", {"lesson_id": 1, "pad": "x" * 20_000}, "payload_too_large"),
    ],
)
async def test_bad_events_get_a_clear_error_and_the_connection_lives_on(
    live_server: LiveServer, clients: list[LiveClient], event: str, payload: Any, code: str
) -> None:
    client = await connected(live_server, clients, "student")
    reply = await client.call(event, payload)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    (pushed,) = await client.wait_for("server.error")
    assert pushed["code"] == code
    lesson = await a_lesson_now(live_server)
    assert (await enter(client, await seat(live_server.url, "student", lesson)))["ok"] is True


async def test_event_floods_are_limited(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(events_per_second=1.0, event_burst=5.0)
    client = await connected(server, clients, "student")
    replies = [await client.call("notices.join", {}) for _ in range(8)]
    codes = [r["error"]["code"] if not r["ok"] else "ok" for r in replies]
    assert codes.count("rate_limited") >= 3
    assert codes[0] == "ok"


async def test_garbage_frames_do_not_take_the_server_down(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    """Raw WebSocket frames that are not Socket.IO or not msgpack: the server survives."""
    token = await login(live_server.url, "student")
    url = f"ws://127.0.0.1:{live_server.port}/socket.io/?EIO=4&transport=websocket"
    frames: list[bytes | str] = [
        b"\x00\x01\x02 definitely not msgpack",
        msgpack.packb({"type": 2, "nsp": "/", "data": "not a list"}),
        msgpack.packb({"type": 99, "nsp": "/"}),
        "4" + "{not json",
    ]
    async with aiohttp.ClientSession() as http:
        for frame in frames:
            async with http.ws_connect(url) as ws:
                opening = await ws.receive(timeout=5)
                assert str(opening.data).startswith("0")
                await ws.send_bytes(
                    msgpack.packb({"type": 0, "nsp": "/", "data": {"token": token}})
                )
                await ws.receive(timeout=5)
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
                await asyncio.sleep(0.1)
    lesson = await a_lesson_now(live_server)
    survivor, place = await seated_client(live_server.url, "student", lesson, clients)
    assert (await enter(survivor, place))["ok"] is True
    async with aiohttp.ClientSession() as http, http.get(f"{live_server.url}/api/health") as r:
        assert r.status == 200


async def test_a_node_subscribes_only_while_it_has_members(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    realtime = live_server.app[SERVICES_KEY].realtime
    lesson = await a_lesson_now(live_server)
    first, place = await seated_client(live_server.url, "student", lesson, clients)
    second, second_place = await seated_client(live_server.url, "student-5a-02", lesson, clients)
    channel = f"room:{lesson}"
    assert channel not in realtime.local_channels
    assert (await enter(first, place))["ok"]
    assert (await enter(second, second_place))["ok"]
    assert channel in realtime.bus.subscriptions
    await first.call("room.leave", {"lesson_id": lesson})
    assert channel in realtime.bus.subscriptions
    await second.close()
    for _ in range(50):
        if channel not in realtime.bus.subscriptions:
            break
        await asyncio.sleep(0.05)
    assert channel not in realtime.bus.subscriptions
    assert channel not in realtime.local_channels


async def test_a_full_node_refuses_new_connections_quickly_and_takes_them_again_later(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(max_connections=2)
    first = await connected(server, clients, "student")
    await connected(server, clients, "student-5a-02")
    third = LiveClient()
    clients.append(third)
    token = await login(server.url, "student-5a-03")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await third.connect(server.url, token)
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as refused:
            assert refused.status == 503
            assert 1 <= int(refused.headers["Retry-After"]) <= 3
            assert (await refused.json())["error"]["code"] == "overloaded"
        async with http.get(f"{server.url}/api/health") as answer:
            health = await answer.json()
        assert health["connections"] == 2
        assert health["connection_ceiling"] == 2
        assert health["refused_at_ceiling"] == 2
    await first.close()
    for _ in range(50):
        if server.app[SERVICES_KEY].realtime.sio.eio.open_websockets < 2:
            break
        await asyncio.sleep(0.1)
    await third.connect(server.url, token)
    assert third.sio.connected


async def test_a_disconnect_is_recorded_even_when_leaving_the_channel_fails(
    live_server: LiveServer, clients: list[LiveClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attendance must not depend on the bus: a failed unsubscribe still closes the visit."""
    services = live_server.app[SERVICES_KEY]
    lesson = await a_lesson_now(live_server)
    student, place = await seated_client(live_server.url, "student", lesson, clients)
    assert (await enter(student, place))["ok"]
    person = (await visits_of_lesson(live_server, lesson)).popitem()[1]
    assert [left for _joined, left, _seen in person] == [None]

    async def broken_unsubscribe(_channel: str) -> None:
        raise RuntimeError("the bus failed")

    monkeypatch.setattr(services.realtime.bus, "unsubscribe", broken_unsubscribe)
    await student.close()
    for _ in range(100):
        stays = (await visits_of_lesson(live_server, lesson)).popitem()[1]
        if stays[0][1] is not None:
            break
        await asyncio.sleep(0.05)
    assert stays[0][1] is not None, "the visit is closed by the disconnect hook"


async def visits_of_lesson(server: LiveServer, lesson: int) -> dict[int, Any]:
    return await visits.visits_of(server.app[SERVICES_KEY].db, lesson)


async def test_shutdown_waits_for_disconnects_under_way(
    live_server: LiveServer, clients: list[LiveClient]
) -> None:
    """A disconnect's hooks (attendance, presence) use the bus and the database, which close
    right after the connections: shutdown lets the disconnects under way finish first."""
    realtime = live_server.app[SERVICES_KEY].realtime
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow_hook(sid: str, _principal: Any) -> None:
        started.set()
        await release.wait()
        finished.append(sid)

    realtime.on_disconnect(slow_hook)
    client = await connected(live_server, clients, "student")
    await client.close()
    await asyncio.wait_for(started.wait(), 5)
    closing = asyncio.create_task(realtime.close())
    await asyncio.sleep(0.2)
    assert not closing.done(), "shutdown went on with a disconnect under way"
    release.set()
    await asyncio.wait_for(closing, 5)
    assert len(finished) == 1
