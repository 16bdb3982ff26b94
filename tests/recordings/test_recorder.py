"""The recorder muxes a publisher's forwarded frames into WebM, with real aiortc peers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiortc.rtcrtpreceiver
import av
import pytest

from recordings.recorder import Recorder
from recordings.webm import vp8_size
from tests.media.helpers import TEACHER, Forwarding, until

ROOT = Path(__file__).resolve().parents[2]


def probe(path: Path) -> dict[str, Any]:
    """Codecs, duration and how many frames of each kind decode from the file."""
    with av.open(str(path)) as container:
        codecs = sorted(stream.codec_context.name for stream in container.streams)
        duration = None if container.duration is None else container.duration / 1_000_000
        last = 0.0
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
    with av.open(str(path)) as container:
        video = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        audio = sum(1 for _ in container.decode(audio=0))
    return {"codecs": codecs, "duration": duration, "last": last, "video": video, "audio": audio}


async def test_a_publisher_is_recorded_to_webm_without_any_codec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoders: list[Any] = []
    receiver_module: Any = aiortc.rtcrtpreceiver
    original = receiver_module.get_decoder

    def counting(*args: Any) -> Any:
        decoders.append(args)
        return original(*args)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting)
    stage = Forwarding()
    try:
        await stage.publish()
        publisher = stage.room.publishers[TEACHER]
        await until(lambda: publisher.publications["video"].frames > 10)
        path = tmp_path / "lesson.webm"
        recorder = Recorder(path, TEACHER)
        began = time.monotonic()
        recorder.attach(publisher.publications)
        await asyncio.sleep(6)
        recorded = await recorder.stop()
        elapsed = time.monotonic() - began
    finally:
        await stage.close()
    assert decoders == []
    assert recorded.size == path.stat().st_size > 100_000
    assert abs(recorded.duration - elapsed) < 1.0
    found = probe(path)
    assert found["codecs"] == ["opus", "vp8"]
    assert found["duration"] is not None and abs(found["duration"] - elapsed) < 1.0
    assert found["video"] >= 25 * 5  # ~30 fps for ~6 s, every frame decodes
    assert found["audio"] >= 40 * 5
    assert recorded.packets >= found["video"] + found["audio"] - 5


def test_a_killed_recorder_leaves_a_file_playable_up_to_its_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "killed.webm"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    feeder = subprocess.Popen(
        [sys.executable, "-m", "tests.recordings.feeder", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert feeder.stdout is not None and feeder.stdout.readline() == b"ready\n"
        time.sleep(4.5)
    finally:
        feeder.send_signal(signal.SIGKILL)
        feeder.wait()
    found = probe(path)
    assert found["codecs"] == ["opus", "vp8"]
    # Clusters of one second are written as they close: at most about a second is lost.
    assert 3.0 <= found["last"] <= 4.6
    assert found["video"] >= 30 * 3 - 3
    assert found["audio"] >= 50 * 3 - 3


def test_vp8_size_reads_a_keyframe_header() -> None:
    from bench.clip import make_clip

    clip = make_clip()
    assert vp8_size(clip.video[0].data) == (640, 480)
    assert vp8_size(clip.video[1].data) is None


async def test_the_record_bench_measures_the_recorder_against_media_recorder() -> None:
    from bench.record import bench_record

    result = await bench_record(streams=2, baseline_streams=1, seconds=1.0)
    assert 0 < result.core_per_stream < result.baseline_core_per_stream
    assert result.remux_us_per_frame > 0 and result.file_bytes_per_stream_s > 10_000


async def test_a_room_closing_by_its_timer_finishes_its_recording(tmp_path: Path) -> None:
    from web.media_rooms import MediaOps

    announced: list[tuple[int, str, Any]] = []

    async def announce(lesson_id: int, event: str, data: Any) -> None:
        announced.append((lesson_id, event, data))

    stage = Forwarding()
    ops = MediaOps(stage.server, announce)
    path = tmp_path / "timer.webm"
    try:
        await stage.publish()
        await until(lambda: stage.room.publishers[TEACHER].publications["video"].frames > 10)
        await ops.run(
            "record",
            1,
            {"closes_in": 2.5, "recording_id": 7, "person_id": TEACHER, "path": str(path)},
        )
        await until(lambda: 1 not in stage.server.rooms and not ops.recorders, timeout=8)
    finally:
        await stage.close()
    states = [data["recording"] for _, event, data in announced if event == "recording.state"]
    assert states == [True, False]
    found = probe(path)
    assert found["codecs"] == ["opus", "vp8"]
    assert found["duration"] is not None and 1.5 <= found["duration"] <= 3.5  # the index is there
