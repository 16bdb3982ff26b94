"""Lesson video over the room's Socket.IO connection: a teacher publishes, students receive,
the teacher decides who else may publish and mutes; real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from array import array
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from bench.clip import make_clip
from bench.peers import ClipPublisher, FrameSubscriber
from media.codecs import preferred_codecs
from tests.clients import LiveClient, lesson_now
from tests.conftest import ServerFactory
from tests.media.helpers import until, until_still
from tests.web.test_live_lessons import QUICK, Lesson, a_lesson, refused
from web.services import SERVICES_KEY


def signal(client: LiveClient, event: str, payload: dict[str, Any]) -> Any:
    async def send(offer: str) -> str:
        reply = await client.call(event, {**payload, "sdp": offer})
        assert reply["ok"], reply
        return str(reply["data"]["sdp"])

    return send


async def test_a_teacher_publishes_students_receive_and_only_allowed_students_publish(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(media_loopback_only=True, **QUICK), clients)
    teacher, joined = await lesson.entered("teacher")
    student, student_joined = await lesson.entered("student")
    teacher_id = joined["room"]["me"]["id"]
    student_id = student_joined["room"]["me"]["id"]
    peers: list[Any] = []
    try:
        publisher = ClipPublisher(make_clip())
        peers.append(publisher)
        await publisher.start(signal(teacher, "media.publish", {"lesson_id": lesson.id}))
        (published,) = await student.wait_for("media.published")
        assert published["data"]["person_id"] == teacher_id

        listing = await student.call("media.list", {"lesson_id": lesson.id})
        assert listing["data"]["may_publish"] is False
        assert [p["person_id"] for p in listing["data"]["publishers"]] == [teacher_id]

        receiver = FrameSubscriber()
        peers.append(receiver)
        await receiver.start(
            signal(student, "media.subscribe", {"lesson_id": lesson.id, "person_id": teacher_id})
        )
        await until(lambda: receiver.received["video"].frames >= 10)
        assert receiver.received["video"].first_keyframe is True

        # A student may not publish until the teacher allows it.
        attempt = ClipPublisher(make_clip())
        peers.append(attempt)
        offer = await attempt.offer()
        code = await refused(student, "media.publish", {"lesson_id": lesson.id, "sdp": offer})
        assert code == "publish_not_allowed"
        allow = {"lesson_id": lesson.id, "person_id": student_id, "allowed": True}
        assert await refused(student, "media.allow", allow) == "not_the_teacher"
        assert (await teacher.call("media.allow", allow))["ok"]
        reply = await student.call("media.publish", {"lesson_id": lesson.id, "sdp": offer})
        assert reply["ok"], reply

        # The teacher mutes the student on the server; taking the permission back unpublishes.
        mute = {"lesson_id": lesson.id, "person_id": student_id, "muted": True, "kinds": ["audio"]}
        reply = await teacher.call("media.mute", mute)
        assert reply["ok"] and reply["data"]["muted"] == ["audio"], reply
        assert await refused(student, "media.mute", {**mute, "muted": False}) == "not_the_teacher"
        assert (await teacher.call("media.allow", {**allow, "allowed": False}))["ok"]
        gone = await teacher.wait_for("media.unpublished")
        assert gone[-1]["data"]["person_id"] == student_id
    finally:
        for peer in peers:
            await peer.close()


async def test_the_teachers_mute_stops_forwarding_to_students(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(media_loopback_only=True, **QUICK), clients)
    teacher, _ = await lesson.entered("teacher")
    student, student_joined = await lesson.entered("student")
    classmate, _ = await lesson.entered("student-5a-02")
    student_id = student_joined["room"]["me"]["id"]
    allow = {"lesson_id": lesson.id, "person_id": student_id, "allowed": True}
    assert (await teacher.call("media.allow", allow))["ok"]
    publisher, receiver = ClipPublisher(make_clip()), FrameSubscriber()
    try:
        await publisher.start(signal(student, "media.publish", {"lesson_id": lesson.id}))
        await receiver.start(
            signal(classmate, "media.subscribe", {"lesson_id": lesson.id, "person_id": student_id})
        )
        await until(lambda: receiver.received["audio"].frames >= 10)
        reply = await teacher.call("room.control", {"lesson_id": lesson.id, "action": "mute_all"})
        assert reply["ok"], reply
        (muted,) = await classmate.wait_for("media.muted")
        assert muted["data"]["person_id"] == student_id and muted["data"]["muted"] == ["audio"]
        await until_still(lambda: receiver.received["audio"].frames)
        audio, video = receiver.received["audio"].frames, receiver.received["video"].frames
        await asyncio.sleep(0.5)
        assert receiver.received["audio"].frames == audio  # no sound gets through
        await until(lambda: receiver.received["video"].frames > video)  # the picture still does
    finally:
        await receiver.close()
        await publisher.close()


async def test_bad_media_payloads_get_clear_refusals(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(media_loopback_only=True, **QUICK), clients)
    teacher, _ = await lesson.entered("teacher")
    outsider, _ = await lesson.person("student-5a-02")
    base = {"lesson_id": lesson.id}
    assert await refused(teacher, "media.publish", {**base, "sdp": "v=0 nonsense"}) == "bad_sdp"
    assert await refused(teacher, "media.publish", {**base, "sdp": "x" * 20_000}) in {
        "invalid_payload",
        "payload_too_large",
    }
    assert await refused(teacher, "media.publish", {**base}) == "invalid_payload"
    assert await refused(teacher, "media.publish", {**base, "sdp": 5}) == "invalid_payload"
    assert await refused(
        teacher, "media.subscribe", {**base, "person_id": 999, "sdp": "v=0 " * 5}
    ) in {"bad_sdp", "not_publishing"}
    assert (
        await refused(
            teacher, "media.mute", {**base, "person_id": 1, "muted": True, "kinds": ["smell"]}
        )
        == "invalid_payload"
    )
    assert await refused(outsider, "media.list", base) == "not_in_room"
    assert (await teacher.call("media.list", base))["data"]["may_publish"] is True


async def test_leaving_or_disconnecting_ends_publishing(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(media_loopback_only=True, **QUICK)
    lesson = await a_lesson(server, clients)
    teacher, joined = await lesson.entered("teacher")
    student, _ = await lesson.entered("student")
    teacher_id = joined["room"]["me"]["id"]
    media = server.app[SERVICES_KEY].media
    assert media is not None
    for leaving in ("room.leave", "disconnect"):
        publisher = ClipPublisher(make_clip())
        try:
            await publisher.start(signal(teacher, "media.publish", {"lesson_id": lesson.id}))
            assert teacher_id in media.rooms[lesson.id].publishers
            seen = len(student.received["media.unpublished"])
            if leaving == "room.leave":
                assert (await teacher.call("room.leave", {"lesson_id": lesson.id}))["ok"]
            else:
                await teacher.close()
            gone = await student.wait_for("media.unpublished", count=seen + 1)
            assert gone[-1]["data"]["person_id"] == teacher_id
            assert lesson.id not in media.rooms  # nothing of the lesson's media is left
        finally:
            await publisher.close()
        if leaving == "room.leave":
            teacher, _ = await lesson.entered("teacher")


async def test_media_closes_when_the_lesson_runs_out_of_time(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    server = await custom_server(media_loopback_only=True, room_overrun=1.0, **QUICK)
    services = server.app[SERVICES_KEY]
    lesson_id = await lesson_now(services.db, duration=dt.timedelta(seconds=64))  # 4 s left
    lesson = Lesson(server, lesson_id, clients)
    teacher, _ = await lesson.entered("teacher")
    publisher = ClipPublisher(make_clip())
    try:
        await publisher.start(signal(teacher, "media.publish", {"lesson_id": lesson_id}))
        assert services.media is not None and lesson_id in services.media.rooms
        await until(lambda: lesson_id not in services.media.rooms, timeout=10)  # type: ignore[union-attr]
        await until(lambda: publisher.pc.connectionState in {"closed", "failed"}, timeout=10)
    finally:
        await publisher.close()


class Tone(AudioStreamTrack):
    """A microphone for tests: a 440 Hz tone, or silence when ``loud`` is off. aiortc encodes
    it and puts each packet's RFC 6464 level in the RTP header, as browsers do."""

    def __init__(self, loud: bool) -> None:
        super().__init__()
        self.loud = loud
        self._phase = 0

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        assert isinstance(frame, av.AudioFrame)
        if self.loud:
            rate, samples = frame.sample_rate, frame.samples
            step = 2 * math.pi * 440 / rate
            wave = array(
                "h", (int(12_000 * math.sin(step * (self._phase + n))) for n in range(samples))
            )
            frame.planes[0].update(wave.tobytes())
            self._phase += samples
        return frame


class TonePublisher:
    def __init__(self, loud: bool) -> None:
        self.tone = Tone(loud)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = self.pc.addTransceiver(self.tone, direction="sendonly")
        transceiver.setCodecPreferences(preferred_codecs("audio"))

    async def start(self, send: Any) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await send(self.pc.localDescription.sdp)
        assert "ssrc-audio-level" in answer, "the answer takes the audio level extension"
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def close(self) -> None:
        await self.pc.close()


async def test_the_room_hears_who_is_speaking(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(media_loopback_only=True, **QUICK), clients)
    teacher, joined = await lesson.entered("teacher")
    student, student_joined = await lesson.entered("student")
    teacher_id = joined["room"]["me"]["id"]
    student_id = student_joined["room"]["me"]["id"]
    allow = {"lesson_id": lesson.id, "person_id": student_id, "allowed": True}
    assert (await teacher.call("media.allow", allow))["ok"]
    speaker, quiet = TonePublisher(loud=True), TonePublisher(loud=False)
    try:
        started = time.monotonic()
        await speaker.start(signal(teacher, "media.publish", {"lesson_id": lesson.id}))
        await quiet.start(signal(student, "media.publish", {"lesson_id": lesson.id}))
        (first,) = await student.wait_for("media.speaking", timeout=5)
        assert first["data"] == {"lesson_id": lesson.id, "person_id": teacher_id}
        listing = await student.call("media.list", {"lesson_id": lesson.id})
        assert listing["data"]["speaking"] == teacher_id

        # The teacher falls silent and the student speaks up: the speaker changes.
        speaker.tone.loud, quiet.tone.loud = False, True
        await student.wait_for("media.speaking", count=2, timeout=5)
        await until(
            lambda: student.received["media.speaking"][-1]["data"]["person_id"] == student_id
        )

        # Muted by the teacher, the student no longer counts, though the packets still come.
        mute = {"lesson_id": lesson.id, "person_id": student_id, "muted": True, "kinds": ["audio"]}
        assert (await teacher.call("media.mute", mute))["ok"]
        await until(lambda: student.received["media.speaking"][-1]["data"]["person_id"] is None)
        events = student.received["media.speaking"]
        seconds = time.monotonic() - started
        assert len(events) <= 2 * seconds + 1, (len(events), seconds)
    finally:
        await speaker.close()
        await quiet.close()


async def test_audio_only_stops_video_for_one_subscriber(
    custom_server: ServerFactory, clients: list[LiveClient]
) -> None:
    lesson = await a_lesson(await custom_server(media_loopback_only=True, **QUICK), clients)
    teacher, joined = await lesson.entered("teacher")
    weak, _ = await lesson.entered("student")
    strong, _ = await lesson.entered("student-5a-02")
    teacher_id = joined["room"]["me"]["id"]
    publisher = ClipPublisher(make_clip())
    receivers = [FrameSubscriber(), FrameSubscriber()]
    try:
        await publisher.start(signal(teacher, "media.publish", {"lesson_id": lesson.id}))
        for client, receiver in zip((weak, strong), receivers, strict=True):
            ref = {"lesson_id": lesson.id, "person_id": teacher_id}
            await receiver.start(signal(client, "media.subscribe", ref))
        slow, fast = receivers
        await until(lambda: slow.received["video"].frames >= 10)

        reply = await weak.call("media.audio_only", {"lesson_id": lesson.id, "audio_only": True})
        assert reply["data"] == {"lesson_id": lesson.id, "audio_only": True, "subscriptions": 1}
        await until_still(lambda: slow.received["video"].frames)
        video, audio, other = (
            slow.received["video"].frames,
            slow.received["audio"].frames,
            fast.received["video"].frames,
        )
        await asyncio.sleep(0.6)
        # The sound goes on and the others still see (at the pace the machine allows).
        await until(
            lambda: (
                slow.received["audio"].frames > audio + 10
                and fast.received["video"].frames > other + 5
            ),
            timeout=10,
        )
        assert slow.received["video"].frames == video  # no video packets reach it
        listing = await weak.call("media.list", {"lesson_id": lesson.id})
        assert listing["data"]["audio_only"] is True

        # A renegotiated subscription stays audio only; turning it off brings video back.
        again = FrameSubscriber()
        receivers.append(again)
        await again.start(
            signal(weak, "media.subscribe", {"lesson_id": lesson.id, "person_id": teacher_id})
        )
        await until(lambda: again.received["audio"].frames >= 10)
        assert again.received["video"].frames == 0
        reply = await weak.call("media.audio_only", {"lesson_id": lesson.id, "audio_only": False})
        assert reply["ok"], reply
        await until(lambda: again.received["video"].frames >= 10)
        assert again.received["video"].first_keyframe is True

        bad = {"lesson_id": lesson.id, "audio_only": "yes"}
        assert await refused(weak, "media.audio_only", bad) == "invalid_payload"
        outsider, _ = await lesson.person("student-5a-03")
        assert (
            await refused(
                outsider, "media.audio_only", {"lesson_id": lesson.id, "audio_only": True}
            )
            == "not_in_room"
        )
    finally:
        for receiver in receivers:
            await receiver.close()
        await publisher.close()
