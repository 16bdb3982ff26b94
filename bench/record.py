"""``urok bench record``: what recording costs per recorded stream, against aiortc's
``MediaRecorder`` in the same run.

A recorded stream is one person's 640×480 VP8 video (~600 kbit/s, 30 fps) with Opus audio,
arriving at its real pace. urok's recorder gets the encoded frames as the media server
forwards them (each stream's publications push them into the recorder's bounded queues; its
pump tasks take them out) and remuxes them into WebM. The network side (SRTP, jitter buffer)
is the same for both and is left out. The baseline is what an aiortc server must do to
use ``MediaRecorder``: the receiver decodes the frames and the recorder encodes them again.
Each side runs alone in this process; its CPU time (all threads) over the window is divided
by the window and the number of streams.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc.contrib.media import MediaRecorder
from aiortc.mediastreams import MediaStreamTrack

from bench.clip import AUDIO_RATE, AUDIO_SAMPLES, FPS, HEIGHT, WIDTH, Clip, make_clip
from media.forwarding import Publication
from media.frames import EncodedFrame, Kind, to_packet
from recordings.recorder import Recorder

WARM_UP = 1.5


@dataclass(frozen=True, slots=True)
class RecordResult:
    streams: int
    baseline_streams: int
    seconds: float
    width: int
    height: int
    core_per_stream: float
    baseline_core_per_stream: float
    times_cheaper: float
    remux_us_per_frame: float
    file_bytes_per_stream_s: float
    target_core_per_stream: float = 0.02
    target_times_cheaper: float = 15.0


async def _paced(seconds: float, step: float, tick: Any) -> None:
    """Call ``tick(index)`` at the real pace of a frame every ``step`` seconds."""
    start = time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        due = start + index * step
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tick(index)
        index += 1


async def _measure(seconds: float) -> float:
    """CPU seconds of this process over ``seconds`` after a warm-up."""
    await asyncio.sleep(WARM_UP)
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


async def run_ours(
    clip: Clip, streams: int, seconds: float, folder: Path
) -> tuple[float, float, int]:
    # Each stream is a publisher of its own: its publications hand every frame to the
    # recorder's queues, and the recorder's pump tasks mux them (the media server's path).
    kinds: tuple[Kind, ...] = ("video", "audio")
    publications: list[dict[Kind, Publication]] = [
        {kind: Publication(kind, lambda: None) for kind in kinds} for _ in range(streams)
    ]
    recorders = []
    for n, published in enumerate(publications):
        recorder = Recorder(folder / f"ours-{n}.webm", person_id=n)
        recorder.attach(published)
        recorders.append(recorder)
    total = seconds + WARM_UP + 0.5

    def video(index: int) -> None:
        frame = clip.video[index % len(clip.video)]
        for published in publications:
            published["video"].on_frame(
                EncodedFrame(
                    "video", frame.data, index * 90_000 // FPS, frame.keyframe, time.monotonic()
                )
            )

    def audio(index: int) -> None:
        frame = clip.audio[index % len(clip.audio)]
        for published in publications:
            published["audio"].on_frame(
                EncodedFrame("audio", frame.data, index * AUDIO_SAMPLES, True, time.monotonic())
            )

    feeding = asyncio.gather(
        _paced(total, 1 / FPS, video), _paced(total, AUDIO_SAMPLES / AUDIO_RATE, audio)
    )
    cores = await _measure(seconds)
    await feeding
    sizes = 0
    for recorder in recorders:
        recorded = await recorder.stop()
        sizes += recorded.size
    for published in publications:
        for publication in published.values():
            publication.close()
    # The pure remux cost per frame, apart from pacing: mux the clip once more, timed.
    probe = Recorder(folder / "probe.webm", person_id=0)
    packets = [
        ("video", EncodedFrame("video", f.data, i * 3000, f.keyframe, time.monotonic()))
        for i, f in enumerate(clip.video)
    ]
    probe.write("video", to_packet(packets[0][1]))  # opens the file: not a frame's cost
    started = time.perf_counter()
    for _kind, encoded in packets[1:]:
        probe.write("video", to_packet(encoded))
    remux_us = (time.perf_counter() - started) / (len(packets) - 1) * 1e6
    await probe.stop()
    return cores / streams, remux_us, sizes // max(streams, 1)


class DecodedClip(MediaStreamTrack):
    """What an aiortc receiver hands a ``MediaRecorder``: the clip decoded, at its pace."""

    def __init__(self, kind: str, clip: Clip) -> None:
        super().__init__()
        self.kind = kind
        self._frames = clip.video if kind == "video" else clip.audio
        create: Any = av.CodecContext.create
        self._decoder = create("vp8" if kind == "video" else "opus", "r")
        if kind == "audio":
            self._decoder.sample_rate = AUDIO_RATE
            self._decoder.layout = "stereo"
        self._step = 1 / FPS if kind == "video" else AUDIO_SAMPLES / AUDIO_RATE
        self._ticks = 90_000 // FPS if kind == "video" else AUDIO_SAMPLES
        self._time_base = Fraction(1, 90_000 if kind == "video" else AUDIO_RATE)
        self._count = 0
        self._start: float | None = None
        self._pending: list[Any] = []

    async def recv(self) -> Any:
        if self._start is None:
            self._start = time.monotonic()
        while not self._pending:
            due = self._start + self._count * self._step
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            data = self._frames[self._count % len(self._frames)].data
            self._pending = list(self._decoder.decode(av.Packet(data)))
            self._count += 1
        frame = self._pending.pop(0)
        frame.pts = (self._count - 1) * self._ticks
        frame.time_base = self._time_base
        return frame


async def run_baseline(clip: Clip, streams: int, seconds: float, folder: Path) -> float:
    recorders = []
    for n in range(streams):
        recorder = MediaRecorder(str(folder / f"baseline-{n}.webm"))
        recorder.addTrack(DecodedClip("video", clip))
        recorder.addTrack(DecodedClip("audio", clip))
        recorders.append(recorder)
    for recorder in recorders:
        await recorder.start()
    cores = await _measure(seconds)
    for recorder in recorders:
        await recorder.stop()
    return cores / streams


async def bench_record(streams: int, baseline_streams: int, seconds: float) -> RecordResult:
    clip = make_clip()
    with tempfile.TemporaryDirectory(prefix="urok-bench-record-") as tmp:
        folder = Path(tmp)
        ours, remux_us, size = await run_ours(clip, streams, seconds, folder)
        baseline = await run_baseline(clip, baseline_streams, seconds, folder)
    total = seconds + WARM_UP + 0.5
    return RecordResult(
        streams=streams,
        baseline_streams=baseline_streams,
        seconds=seconds,
        width=WIDTH,
        height=HEIGHT,
        core_per_stream=round(ours, 5),
        baseline_core_per_stream=round(baseline, 4),
        times_cheaper=round(baseline / ours, 1) if ours > 0 else float("inf"),
        remux_us_per_frame=round(remux_us, 2),
        file_bytes_per_stream_s=round(size / total),
    )


def main(streams: int, baseline_streams: int, seconds: float, json_path: Path | None) -> int:
    result = asyncio.run(bench_record(streams, baseline_streams, seconds))
    text = json.dumps(asdict(result), indent=2)
    print(text)
    if json_path is not None:
        json_path.write_text(text + "\n")
    ok = result.core_per_stream <= result.target_core_per_stream and (
        result.times_cheaper >= result.target_times_cheaper
    )
    return 0 if ok else 1
