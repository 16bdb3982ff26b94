"""The frame assembler that stands in for aiortc's jitter buffer, on real RTP packets."""

from __future__ import annotations

import pytest
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.rtp import RtpPacket

from media import aiortc_hooks
from media.aiortc_hooks import AiortcChanged, check_aiortc
from media.assembler import MAX_PENDING_FRAMES, AudioAssembler, VideoAssembler
from media.frames import EncodedFrame


def vp8_packets(frame: bytes, seq: int, timestamp: int) -> list[RtpPacket]:
    """A VP8 frame split into RTP packets as aiortc's sender splits it."""
    packets = []
    payloads = Vp8Encoder._packetize(frame, picture_id=1)
    for index, payload in enumerate(payloads):
        packet = RtpPacket(
            payload_type=96,
            sequence_number=(seq + index) & 0xFFFF,
            timestamp=timestamp,
            marker=int(index == len(payloads) - 1),
        )
        packet.payload = payload
        packet._data = vp8_depayload(payload)  # type: ignore[attr-defined]
        packets.append(packet)
    return packets


KEY = b"\x00" + bytes(range(256)) * 20  # bit 0 clear: a keyframe
DELTA = b"\x01" + bytes(range(200)) * 10


def test_video_frames_complete_at_the_marker_in_any_packet_order() -> None:
    frames: list[EncodedFrame] = []
    assembler = VideoAssembler(frames.append)
    packets = vp8_packets(KEY, 65534, 1000)  # wraps around the sequence numbers
    assert len(packets) >= 3
    for packet in reversed(packets):
        assert assembler.add(packet) == (False, None)  # never a frame for the decoder
    assert [(f.data, f.keyframe, f.timestamp) for f in frames] == [(KEY, True, 1000)]
    for packet in packets:  # repeats (retransmissions) of a finished frame are ignored
        assembler.add(packet)
    assert len(frames) == 1


def test_a_lost_packet_gives_the_frame_up_and_waits_for_a_keyframe() -> None:
    frames: list[EncodedFrame] = []
    asked: list[int] = []
    assembler = VideoAssembler(frames.append, lambda: asked.append(1))
    seq = 0
    lossy = vp8_packets(DELTA, seq, 0)
    seq += len(lossy)
    for packet in lossy[1:]:  # the first packet never comes
        assembler.add(packet)
    for number in range(1, MAX_PENDING_FRAMES + 2):
        packets = vp8_packets(DELTA, seq, number * 3000)
        seq += len(packets)
        for packet in packets:
            assembler.add(packet)
    assert frames == [] and asked  # nothing broken is passed on; a keyframe is asked for
    for packet in vp8_packets(KEY, seq, 99_000):
        assembler.add(packet)
    assert [f.keyframe for f in frames] == [True]
    assert assembler.lost_frames == 1


def test_audio_packets_are_frames_at_once_and_late_ones_are_dropped() -> None:
    frames: list[EncodedFrame] = []
    assembler = AudioAssembler(frames.append)
    for seq in (10, 11, 9, 12):
        packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
        packet._data = bytes([seq])  # type: ignore[attr-defined]
        assembler.add(packet)
    assert [f.data for f in frames] == [b"\x0a", b"\x0b", b"\x0c"]


def test_the_hooks_refuse_another_aiortc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc_hooks.metadata, "version", lambda _name: "1.17.0")
    with pytest.raises(AiortcChanged, match=r"1\.16\.0"):
        check_aiortc()
