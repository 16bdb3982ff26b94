"""Feeds the bench clip into a recorder at its real pace until killed (the crash test)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench.clip import AUDIO_SAMPLES, FPS, make_clip
from media.frames import EncodedFrame, to_packet
from recordings.recorder import Recorder


async def feed(path: Path) -> None:
    clip = make_clip()
    recorder = Recorder(path, person_id=1)
    print("ready", flush=True)
    start = time.monotonic()
    video = audio = 0
    while True:
        now = time.monotonic() - start
        while video / FPS <= now:
            frame = clip.video[video % len(clip.video)]
            encoded = EncodedFrame(
                "video", frame.data, video * 3000, frame.keyframe, time.monotonic()
            )
            recorder.write("video", to_packet(encoded))
            video += 1
        while audio * AUDIO_SAMPLES / 48_000 <= now:
            frame = clip.audio[audio % len(clip.audio)]
            encoded = EncodedFrame(
                "audio", frame.data, audio * AUDIO_SAMPLES, True, time.monotonic()
            )
            recorder.write("audio", to_packet(encoded))
            audio += 1
        await asyncio.sleep(0.01)


if __name__ == "__main__":
    asyncio.run(feed(Path(sys.argv[1])))
