"""Subscribers' bounded queues and keyframe requests, on the real forwarding objects."""

from __future__ import annotations

import asyncio

from media.forwarding import KeyframeRequests, Publication
from media.frames import EncodedFrame


def frame(number: int, keyframe: bool = False) -> EncodedFrame:
    return EncodedFrame("video", bytes([0 if keyframe else 1, number]), number * 3000, keyframe, 0)


async def test_a_subscriber_starts_at_a_keyframe() -> None:
    requests: list[int] = []
    publication = Publication("video", lambda: requests.append(1), queue_frames=10)
    publication.on_frame(frame(0))
    track = publication.subscribe()
    assert requests == [1]  # asked for at once
    publication.on_frame(frame(1))
    publication.on_frame(frame(2, keyframe=True))
    publication.on_frame(frame(3))
    packets = [bytes(await track.recv()) for _ in range(2)]
    assert packets == [bytes([0, 2]), bytes([1, 3])]
    assert track.frames_dropped == 1


async def test_an_overflowing_subscriber_drops_to_the_next_keyframe() -> None:
    requests: list[int] = []
    publication = Publication("video", lambda: requests.append(1), queue_frames=5)
    slow = publication.subscribe()
    fast = publication.subscribe()
    publication.on_frame(frame(0, keyframe=True))
    for number in range(1, 5):
        publication.on_frame(frame(number))
    for _ in range(5):
        await fast.recv()
    publication.keyframes.interval = 0  # let every request through, to count them
    requests.clear()
    publication.on_frame(frame(5))  # the slow one's queue is full: it drops everything
    assert slow.overflows == 1 and slow.waiting_for_keyframe
    assert requests == [1]  # and asks for a keyframe
    publication.on_frame(frame(6))
    publication.on_frame(frame(7, keyframe=True))
    publication.on_frame(frame(8))
    assert [bytes(await slow.recv()) for _ in range(2)] == [bytes([0, 7]), bytes([1, 8])]
    assert [bytes(await fast.recv())[1] for _ in range(4)] == [5, 6, 7, 8]  # unaffected
    assert fast.overflows == 0


async def test_keyframe_requests_are_rate_limited_but_not_lost() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()
    requests = KeyframeRequests(lambda: sent.append(loop.time()), interval=0.3)
    requests.request()
    for _ in range(20):
        requests.request()
    assert len(sent) == 1
    await asyncio.sleep(0.4)
    assert len(sent) == 2  # the ones inside the interval became one, at its end
    assert sent[1] - sent[0] >= 0.29
    requests.request(force=True)  # a new subscription does not wait
    assert len(sent) == 3
    requests.close()


async def test_a_muted_publication_forwards_nothing() -> None:
    publication = Publication("audio", lambda: None)
    track = publication.subscribe()
    publication.set_muted(True)
    publication.on_frame(EncodedFrame("audio", b"x", 960, True, 0))
    assert track.frames_in == 0
    publication.set_muted(False)
    publication.on_frame(EncodedFrame("audio", b"y", 1920, True, 0))
    assert bytes(await track.recv()) == b"y"
