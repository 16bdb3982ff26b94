"""Lesson video across two server processes: the lesson's media lives in its media worker.

Node A runs a server process and a media worker under one supervisor (``--media-workers 1``);
node B is a server process of its own that relays to that media worker. A teacher publishes
through node A and a student receives through node B, with real aiortc peers on loopback.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench.clip import make_clip
from bench.peers import ClipPublisher, FrameSubscriber
from tests.clients import LiveClient, enter, seat
from tests.media.helpers import until
from tests.realtime.test_two_nodes import (
    eventually,
    lesson_in,
    numsub,
    processes,  # noqa: F401 - a fixture
    redis_client,  # noqa: F401 - a fixture
    start_node,
)

MEDIA = {"UROK_MEDIA_LOOPBACK_ONLY": "1", "UROK_MEDIA_WORKERS": "1"}


def signal(client: LiveClient, event: str, payload: dict[str, Any]) -> Any:
    async def send(offer: str) -> str:
        reply = await client.call(event, {**payload, "sdp": offer})
        assert reply["ok"], reply
        return str(reply["data"]["sdp"])

    return send


async def refused(client: LiveClient, event: str, payload: dict[str, Any]) -> str:
    reply = await client.call(event, payload)
    assert reply["ok"] is False, reply
    return str(reply["error"]["code"])


async def test_a_teacher_on_one_node_is_seen_and_heard_by_a_student_on_the_other(
    tmp_path: Path,
    redis_prefix: str,
    redis_client: aioredis.Redis,  # noqa: F811
    processes: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    node_a = await start_node(tmp_path, redis_prefix, processes, "--media-workers", "1", env=MEDIA)
    node_b = await start_node(tmp_path, redis_prefix, processes, env=MEDIA)

    async def worker_serves() -> bool:
        return await numsub(redis_client, f"{redis_prefix}rpc:media:0") == 1

    await eventually(worker_serves, timeout=15)
    lesson = await lesson_in(tmp_path)
    teacher_seat = await seat(node_a.url, "teacher", lesson)
    student_seat = await seat(node_b.url, "student", lesson)
    teacher, student = LiveClient(), LiveClient()
    peers: list[Any] = []
    try:
        await teacher.connect(node_a.url, teacher_seat.token)
        await student.connect(node_b.url, student_seat.token)
        joined = await enter(teacher, teacher_seat)
        assert joined["ok"], joined
        teacher_id = joined["data"]["room"]["me"]["id"]
        student_joined = await enter(student, student_seat)
        student_id = student_joined["data"]["room"]["me"]["id"]

        clip = make_clip()
        publisher = ClipPublisher(clip)
        peers.append(publisher)
        await publisher.start(signal(teacher, "media.publish", {"lesson_id": lesson}))
        (published,) = await student.wait_for("media.published")  # from the media worker
        assert published["data"]["person_id"] == teacher_id

        listing = await student.call("media.list", {"lesson_id": lesson})
        assert listing["ok"], listing
        assert [p["person_id"] for p in listing["data"]["publishers"]] == [teacher_id]
        assert listing["data"]["may_publish"] is False

        receiver = FrameSubscriber(keep_arrivals=True)
        peers.append(receiver)
        subscribe = {"lesson_id": lesson, "person_id": teacher_id}
        await receiver.start(signal(student, "media.subscribe", subscribe))
        await until(
            lambda: (
                receiver.received["video"].frames >= 10 and receiver.received["audio"].frames >= 10
            ),
            timeout=10,
        )
        video = receiver.received["video"]
        assert video.first_keyframe is True
        assert video.arrivals and set(video.arrivals) <= {f.data for f in clip.video}
        audio_arrivals = receiver.received["audio"].arrivals
        assert audio_arrivals and set(audio_arrivals) <= {f.data for f in clip.audio}

        # Refusals relayed from node B carry the media worker's codes.
        attempt = ClipPublisher(make_clip())
        peers.append(attempt)
        offer = await attempt.offer()
        code = await refused(student, "media.publish", {"lesson_id": lesson, "sdp": offer})
        assert code == "publish_not_allowed"
        allow = {"lesson_id": lesson, "person_id": student_id, "allowed": True}
        assert await refused(student, "media.allow", allow) == "not_the_teacher"
        nobody = {"lesson_id": lesson, "person_id": student_id, "sdp": offer}
        assert await refused(student, "media.subscribe", nobody) == "not_publishing"

        # The teacher mutes their microphone through node A: no more sound reaches node B.
        mute = {"lesson_id": lesson, "person_id": teacher_id, "muted": True, "kinds": ["audio"]}
        reply = await teacher.call("media.mute", mute)
        assert reply["ok"] and reply["data"]["muted"] == ["audio"], reply
        (muted,) = await student.wait_for("media.muted")
        assert muted["data"] == {"lesson_id": lesson, "person_id": teacher_id, "muted": ["audio"]}
        await asyncio.sleep(0.3)  # what was already on its way
        audio, frames = receiver.received["audio"].frames, video.frames
        await until(lambda: video.frames >= frames + 15, timeout=10)
        assert receiver.received["audio"].frames == audio

        # Allowed through node A, the student publishes through node B; disconnecting from
        # node B ends that publishing in the media worker, and node A hears of it.
        assert (await teacher.call("media.allow", allow))["ok"]
        (allowed,) = await student.wait_for("media.allowed")
        assert allowed["data"]["person_id"] == student_id
        reply = await student.call("media.publish", {"lesson_id": lesson, "sdp": offer})
        assert reply["ok"], reply
        announced = await teacher.wait_for("media.published", 2)
        published_by = [event["data"]["person_id"] for event in announced]
        assert published_by == [teacher_id, student_id]
        await student.close()
        (gone,) = await teacher.wait_for("media.unpublished", timeout=10)
        assert gone["data"] == {"lesson_id": lesson, "person_id": student_id}
        listing = await teacher.call("media.list", {"lesson_id": lesson})
        assert [p["person_id"] for p in listing["data"]["publishers"]] == [teacher_id]
    finally:
        for peer in peers:
            await peer.close()
        for client in (teacher, student):
            if client.sio.connected:
                await client.close()
