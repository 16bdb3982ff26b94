"""Forwarding encoded media through the media server, with real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest

from bench.clip import make_clip
from bench.peers import ClipPublisher
from media.aiortc_hooks import SENDER_ENCODER, OpusPacker, Vp8Packer
from tests.media.helpers import TEACHER, Forwarding, until, until_still


@pytest.fixture
async def stage() -> AsyncIterator[Forwarding]:
    made = Forwarding()
    try:
        yield made
    finally:
        await made.close()


def count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    original = getattr(module, name)

    def counting(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(module, name, counting)
    return calls


async def test_three_subscribers_get_the_publishers_frames_unchanged_without_any_codec(
    stage: Forwarding, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip()
    decoders = count_calls(monkeypatch, aiortc.rtcrtpreceiver, "get_decoder")
    encoders = count_calls(monkeypatch, aiortc.rtcrtpsender, "get_encoder")
    await stage.publish()
    subscribers = [await stage.subscribe(keep_arrivals=True) for _ in range(3)]
    await until(
        lambda: all(
            s.received["video"].frames >= 30 and s.received["audio"].frames >= 50
            for s in subscribers
        )
    )
    assert decoders == [] and encoders == []  # no decoder or encoder anywhere in the process
    clip_video = {frame.data for frame in clip.video}
    for subscriber in subscribers:
        video = subscriber.received["video"]
        assert video.first_keyframe is True
        assert video.arrivals and set(video.arrivals) <= clip_video  # byte for byte as sent
    room = stage.server.rooms[1]
    for subscription in room.subscriptions.values():
        for transceiver in subscription.pc.getTransceivers():
            packer = getattr(transceiver.sender, SENDER_ENCODER)
            assert isinstance(packer, Vp8Packer | OpusPacker)
    codecs = {
        codec.mimeType
        for subscription in room.subscriptions.values()
        for transceiver in subscription.pc.getTransceivers()
        for codec in transceiver._codecs
    }
    assert codecs <= {"video/VP8", "video/rtx", "audio/opus"}


async def test_a_new_subscriber_starts_at_a_keyframe_asked_for_at_once(stage: Forwarding) -> None:
    await stage.publish()
    publication = stage.room.publishers[TEACHER].publications["video"]
    await until(lambda: publication.frames >= 12)  # well inside the clip's first second
    requests = stage.publisher.keyframe_requests
    subscriber = await stage.subscribe(keep_arrivals=True)
    await until(lambda: subscriber.received["video"].frames >= 3, timeout=2)
    assert subscriber.received["video"].first_keyframe is True
    assert stage.publisher.keyframe_requests > requests
    track = next(iter(stage.room.subscriptions.values())).tracks["video"]
    assert track.first_keyframe is True


async def test_keyframe_requests_reach_the_publisher_about_once_a_second(stage: Forwarding) -> None:
    await stage.publish()
    video = stage.room.publishers[TEACHER].publications["video"]
    await until(lambda: video.frames >= 5)
    before = stage.publisher.keyframe_requests
    subscribers = [await stage.subscribe() for _ in range(3)]
    await until(lambda: stage.publisher.keyframe_requests >= before + 3)
    assert stage.publisher.keyframe_requests == before + 3  # one per new subscription
    await until(lambda: all(s.received["video"].frames >= 1 for s in subscribers))
    before = stage.publisher.keyframe_requests
    for _ in range(10):  # every subscriber reports picture loss, many times
        for subscriber in subscribers:
            receiver = next(
                t.receiver for t in subscriber.pc.getTransceivers() if t.kind == "video"
            )
            ssrc = receiver.getSynchronizationSources()[0].source
            await receiver._send_rtcp_pli(ssrc)
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.2)
    # 30 requests in 0.5 s: one at once, one when the interval ends
    assert stage.publisher.keyframe_requests - before in {1, 2}


async def test_a_muted_publisher_stops_reaching_subscribers(stage: Forwarding) -> None:
    await stage.publish()
    subscriber = await stage.subscribe()
    await until(lambda: subscriber.received["video"].frames >= 5)
    stage.room.set_muted(TEACHER, {"audio", "video"})
    await until_still(  # what was in flight arrives
        lambda: subscriber.received["video"].frames + subscriber.received["audio"].frames
    )
    video, audio = subscriber.received["video"].frames, subscriber.received["audio"].frames
    await asyncio.sleep(0.5)
    assert subscriber.received["video"].frames == video
    assert subscriber.received["audio"].frames == audio
    stage.room.set_muted(TEACHER, set())
    await until(lambda: subscriber.received["video"].frames >= video + 5)
    assert subscriber.received["video"].keyframes >= 2  # resumed at a keyframe


async def test_two_offers_at_once_leave_one_publisher(stage: Forwarding) -> None:
    other = ClipPublisher(make_clip())
    try:
        offers = [await stage.publisher.offer(), await other.offer()]
        calls = [
            stage.room.publish(TEACHER, f"tab-{i}", sdp, teacher=True)
            for i, sdp in enumerate(offers)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert any(isinstance(result, str) for result in results), results
        assert list(stage.room.publishers) == [TEACHER]
        assert stage.room.publishers[TEACHER].pc.connectionState != "closed"
    finally:
        await other.close()
