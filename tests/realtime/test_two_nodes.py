"""Two server processes sharing Redis: events cross nodes, subscriptions follow members."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from bench.storm.run import free_port_run
from classroom.storage.database import Database
from classroom.storage.models import EventOutbox
from tests.clients import LiveClient, enter, get_json, lesson_now, login, post_json, seat
from tests.conftest import REDIS_URL, TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]


def node_env(data_dir: Path, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "UROK_DATA_DIR": str(data_dir),
        "UROK_SECRET_KEY": TEST_SECRET,
        "UROK_BUS_URL": REDIS_URL,
        "UROK_BUS_PREFIX": prefix,
        "UROK_LOG_LEVEL": "WARNING",
        "UROK_DEMO_LESSON_NOW": "0",
    }


async def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    want_nodes: int = 1,
    *,
    answers: int | None = None,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> set[str]:
    """The nodes that answered, once ``want_nodes`` were seen or after ``answers`` answers
    (nodes in ``exclude`` not counted)."""
    seen: set[str] = set()
    answered = 0
    # A new connection per request, so that the kernel may hand each to another worker.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        # Generous: starting workers imports the media stack, slow on a busy machine.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                async with http.get(f"{url}/api/health") as response:
                    node = (await response.json())["node"] if response.status == 200 else None
                    if node is not None and node not in exclude:
                        seen.add(node)
                        answered += 1
                        if len(seen) >= want_nodes or answered == answers:
                            return seen
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy ({len(seen)} nodes seen)")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process)


async def start_node(
    data_dir: Path,
    prefix: str,
    processes: list[subprocess.Popen[bytes]],
    *extra: str,
    env: dict[str, str] | None = None,
) -> Node:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), *extra],
        cwd=ROOT,
        env={**node_env(data_dir, prefix), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    url = f"http://127.0.0.1:{port}"
    await wait_healthy(url, process)
    return Node(url, process)


async def lesson_in(data_dir: Path) -> int:
    """A lesson going on now, added to the nodes' shared database."""
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'urok.db'}")
    try:
        return await lesson_now(db)
    finally:
        await db.close()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def numsub(client: aioredis.Redis, channel: str) -> int:
    ((_, count),) = await client.pubsub_numsub(channel)
    return int(count)


async def eventually(check: object, timeout: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


async def test_an_event_published_on_one_node_reaches_a_client_on_the_other(
    tmp_path: Path,
    redis_prefix: str,
    redis_client: aioredis.Redis,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    teacher_seat = await seat(node_a.url, "teacher", lesson)
    seat_a = await seat(node_a.url, "student", lesson)
    seat_b = await seat(node_b.url, "student-5a-02", lesson)
    channel = f"{redis_prefix}room:{lesson}"
    lessons = (await get_json(node_a.url, "/api/timetable", seat_a.token))["lessons"]
    other_lesson = next(entry["id"] for entry in lessons if entry["id"] != lesson)

    teacher, on_a, on_b = LiveClient(), LiveClient(), LiveClient()
    await teacher.connect(node_a.url, teacher_seat.token)
    await on_a.connect(node_a.url, seat_a.token)
    await on_b.connect(node_b.url, seat_b.token)
    try:
        assert await numsub(redis_client, channel) == 0
        assert (await enter(teacher, teacher_seat))["ok"]
        assert await numsub(redis_client, channel) == 1
        assert (await enter(on_a, seat_a))["ok"]
        assert await numsub(redis_client, channel) == 1, "node A subscribes once"
        assert (await enter(on_b, seat_b))["ok"]
        assert await numsub(redis_client, channel) == 2
        assert await numsub(redis_client, f"{redis_prefix}room:{other_lesson}") == 0

        sent = await on_b.call("chat.send", {"lesson_id": lesson, "text": "from node B"})
        assert sent["ok"], sent
        (received,) = await on_a.wait_for("chat.message")
        assert received["data"]["text"] == "from node B"
        assert received["offset"] == sent["data"]["offset"]

        await on_a.call("room.leave", {"lesson_id": lesson})
        await teacher.call("room.leave", {"lesson_id": lesson})
        assert await numsub(redis_client, channel) == 1
        await on_b.close()

        async def unsubscribed() -> bool:
            return await numsub(redis_client, channel) == 0

        await eventually(unsubscribed)
    finally:
        for client in (teacher, on_a, on_b):
            if client.sio.connected:
                await client.close()


async def test_workers_share_one_port_and_a_dead_worker_is_replaced(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=node_env(tmp_path, redis_prefix),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(supervisor)
    url = f"http://127.0.0.1:{port}"
    nodes = await wait_healthy(url, supervisor, want_nodes=2)
    assert len(nodes) == 2
    victim = int(next(iter(nodes)).split(":")[1])
    os.kill(victim, signal.SIGKILL)
    after = await wait_healthy(url, supervisor, want_nodes=2)
    pids = {int(node.split(":")[1]) for node in after}
    assert victim not in pids
    assert len(pids) == 2


async def test_each_worker_also_listens_alone_on_its_own_port(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    first_own = free_port_run(2)[0]
    serve = ["serve", "--port", str(port), "--workers", "2", "--worker-ports", str(first_own)]
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "web.cli", *serve],
        cwd=ROOT,
        env=node_env(tmp_path, redis_prefix),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(supervisor)
    own_urls = [f"http://127.0.0.1:{first_own + n}" for n in range(2)]
    # Asked again and again, each own port is answered by one worker alone.
    owners = [await wait_healthy(url, supervisor, want_nodes=2, answers=8) for url in own_urls]
    assert all(len(nodes) == 1 for nodes in owners)
    assert owners[0] != owners[1]
    victim = int(next(iter(owners[0])).split(":")[1])
    os.kill(victim, signal.SIGKILL)
    # Its successor listens on the same own port.
    successor = await wait_healthy(own_urls[0], supervisor, want_nodes=1, exclude=owners[0])
    assert successor != owners[0] and len(successor) == 1


async def test_students_on_two_nodes_see_the_same_chat_in_the_same_order(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    people = [
        (node_a, "teacher"),
        (node_a, "student"),
        (node_a, "student-5a-02"),
        (node_b, "student-5a-03"),
        (node_b, "student-5a-04"),
    ]
    clients: list[LiveClient] = []
    try:
        for node, username in people:
            place = await seat(node.url, username, lesson)
            client = LiveClient()
            clients.append(client)
            await client.connect(node.url, place.token)
            reply = await enter(client, place)
            assert reply["ok"], reply

        async def chatter(client: LiveClient, name: str) -> None:
            for n in range(3):  # within the chat burst of a connection
                sent = await client.call("chat.send", {"lesson_id": lesson, "text": f"{name} {n}"})
                assert sent["ok"], sent

        await asyncio.gather(
            *(
                chatter(client, username)
                for client, (_, username) in zip(clients, people, strict=True)
            )
        )
        total = 3 * len(people)
        seen = []
        for client in clients:
            messages = await client.wait_for("chat.message", count=total)
            seen.append([(m["offset"], m["data"]["id"]) for m in messages])
        assert all(order == seen[0] for order in seen), "one order for everyone"
        offsets = [offset for offset, _ in seen[0]]
        assert offsets == sorted(offsets) and len(set(offsets)) == total

        # A newcomer on either node gets the history in that same order.
        for node, username in ((node_a, "student-5a-05"), (node_b, "student-5a-06")):
            place = await seat(node.url, username, lesson)
            late = LiveClient()
            clients.append(late)
            await late.connect(node.url, place.token)
            joined = await enter(late, place)
            history = [m["id"] for m in joined["data"]["room"]["messages"]]
            assert history == [message_id for _, message_id in seen[0]]
    finally:
        for client in clients:
            if client.sio.connected:
                await client.close()


async def test_a_grade_set_on_one_node_reaches_the_parent_on_the_other_once(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    """The grade's reactions run on one node (the event outbox); the diary update and the
    parent's notice reach the parent's connection on the other node, each once."""
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    teacher = await login(node_a.url, "teacher")
    parent_token = await login(node_b.url, "parent")
    me = await get_json(node_b.url, "/api/me", parent_token)
    student = next(c["id"] for c in me["children"] if c["school_class"]["name"] == "5А")

    parent = LiveClient()
    await parent.connect(node_b.url, parent_token)
    try:
        joined = await parent.call("notices.join", {})
        assert joined["ok"], joined
        status, grade = await post_json(
            node_a.url,
            f"/api/journal/lessons/{lesson}/grades",
            teacher,
            {"student_id": student, "value": 5, "comment": "Молодец"},
        )
        assert status == 200, grade
        (changed,) = await parent.wait_for("diary.changed")
        assert changed["data"]["student_ids"] == [student]
        assert changed["data"]["lesson_id"] == lesson and changed["data"]["what"] == "grade"
        (notice,) = await parent.wait_for("notice")
        assert notice["data"]["kind"] == "grade" and notice["data"]["student"]["id"] == student

        # Both nodes run the outbox; give the other one time to (wrongly) react again.
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'urok.db'}")
        try:

            async def outbox_empty() -> bool:
                async with db.session() as session:
                    left = await session.scalar(select(func.count()).select_from(EventOutbox))
                return left == 0

            await eventually(outbox_empty)
        finally:
            await db.close()
        await asyncio.sleep(2.5)  # more than one background tick of each node
        assert len(parent.received["diary.changed"]) == 1
        assert len(parent.received["notice"]) == 1
        notices = (await get_json(node_b.url, "/api/notices", parent_token))["notices"]
        assert [n["kind"] for n in notices] == ["grade"]
    finally:
        await parent.close()


async def _enter_and_leave(client: LiveClient, place: Any) -> int:
    """Enter (which fills the node's cache of the room) and leave again; the person's id."""
    joined = await enter(client, place)
    assert joined["ok"], joined
    left = await client.call("room.leave", {"lesson_id": place.lesson_id})
    assert left["ok"], left
    return int(joined["data"]["room"]["me"]["id"])


def _refusal(reply: Any) -> str:
    assert not reply["ok"], reply
    return str(reply["error"]["code"])


async def test_changes_on_one_node_refuse_entries_on_the_other_at_once(
    tmp_path: Path, redis_prefix: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes)
    node_b = await start_node(tmp_path, redis_prefix, processes)
    lesson = await lesson_in(tmp_path)
    clients: list[LiveClient] = []

    async def connected(node_url: str, username: str) -> tuple[LiveClient, Any]:
        place = await seat(node_url, username, lesson)
        client = LiveClient()
        clients.append(client)
        await client.connect(node_url, place.token)
        return client, place

    try:
        teacher, teacher_place = await connected(node_a.url, "teacher")
        assert (await enter(teacher, teacher_place))["ok"]
        removed, removed_place = await connected(node_b.url, "student-5a-02")
        revoked, revoked_place = await connected(node_b.url, "student-5a-03")
        late, late_place = await connected(node_b.url, "student-5a-04")
        removed_id = await _enter_and_leave(removed, removed_place)
        revoked_id = await _enter_and_leave(revoked, revoked_place)

        reply = await teacher.call("room.remove", {"lesson_id": lesson, "person_id": removed_id})
        assert reply["ok"], reply
        assert _refusal(await enter(removed, removed_place)) == "removed"

        reply = await teacher.call("link.revoke", {"lesson_id": lesson, "person_id": revoked_id})
        assert reply["ok"], reply
        assert _refusal(await enter(revoked, revoked_place)) == "link_revoked"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "lock"})
        assert reply["ok"], reply
        assert _refusal(await enter(late, late_place)) == "room_locked"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "unlock"})
        assert reply["ok"], reply
        assert (await enter(late, late_place))["ok"], "unlocked again on node B too"

        reply = await teacher.call("room.control", {"lesson_id": lesson, "action": "end"})
        assert reply["ok"], reply
        other, other_place = await connected(node_b.url, "student-5a-05")
        assert _refusal(await enter(other, other_place)) == "room_ended"
    finally:
        for client in clients:
            if client.sio.connected:
                await client.close()
