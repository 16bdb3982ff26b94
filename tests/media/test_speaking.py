"""Audio levels without decoding: RFC 6464 levels from RTP packets, smoothed per publisher,
and the loudest active publisher chosen with hysteresis."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media.assembler import AudioAssembler
from media.frames import EncodedFrame
from media.speaking import STALE_AFTER, LevelMeter, SpeakerTracker, loudness

PACKET = 0.02  # seconds of audio in one Opus packet


def feed(meter: LevelMeter, level: int, seconds: float, start: float = 0.0) -> float:
    """Packets of one level for ``seconds``; returns the time after the last."""
    at = start
    for _ in range(round(seconds / PACKET)):
        meter.add(level, at)
        at += PACKET
    return at


def test_levels_are_loudness_above_silence() -> None:
    assert loudness(127) == 0.0
    assert loudness(0) == 127.0
    assert loudness(30) == 97.0
    assert loudness(-5) == 127.0 and loudness(300) == 0.0  # out of range is clamped


def test_the_meter_rises_fast_and_falls_slowly() -> None:
    meter = LevelMeter()
    at = feed(meter, 30, 0.2)  # speech at -30 dBov
    assert meter.current(at) > loudness(35)  # within 5 dB after a fifth of a second
    at = feed(meter, 127, 0.1, at)  # a short pause between words
    assert meter.current(at) > loudness(50)  # still counts as speaking
    at = feed(meter, 127, 1.0, at)  # a real pause
    assert meter.current(at) < loudness(90)
    assert meter.packets == 65


def test_a_publisher_that_stops_sending_is_silent() -> None:
    meter = LevelMeter()
    at = feed(meter, 20, 0.5)
    assert meter.current(at) > loudness(25)
    assert meter.current(at + STALE_AFTER + 0.1) == 0.0
    # After the pause the meter starts again from silence, not from the old value.
    meter.add(127, at + 2.0)
    assert meter.current(at + 2.0) == 0.0


def test_the_loudest_active_publisher_speaks() -> None:
    tracker = SpeakerTracker()
    assert tracker.update({1: loudness(100), 2: loudness(90)}) is False  # both too quiet
    assert tracker.current is None
    assert tracker.update({1: loudness(30), 2: loudness(90)}) is True
    assert tracker.current == 1
    assert tracker.update({1: loudness(30), 2: loudness(90)}) is False  # no change, no event


def test_the_speaker_changes_only_for_someone_clearly_louder() -> None:
    tracker = SpeakerTracker()
    tracker.update({1: loudness(30)})
    assert tracker.update({1: loudness(30), 2: loudness(27)}) is False  # 3 dB: keeps 1
    assert tracker.current == 1
    assert tracker.update({1: loudness(30), 2: loudness(20)}) is True  # 10 dB louder
    assert tracker.current == 2
    assert tracker.update({1: loudness(30), 2: loudness(80)}) is True  # 2 fell silent
    assert tracker.current == 1
    assert tracker.update({1: loudness(80)}) is True
    assert tracker.current is None


def test_ties_go_to_the_lower_id_so_the_choice_is_stable() -> None:
    tracker = SpeakerTracker()
    tracker.update({5: loudness(30), 3: loudness(30)})
    assert tracker.current == 3


def audio_packet(seq: int, level: int | None) -> RtpPacket:
    """An Opus RTP packet as a browser sends it, parsed the way aiortc's transport does."""
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(
                    id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"
                )
            ]
        )
    )
    sent = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960, ssrc=7)
    sent.payload = b"\xfc" + bytes(40)
    if level is not None:
        sent.extensions.audio_level = (True, level)
    packet = RtpPacket.parse(sent.serialize(extensions), extensions)
    packet._data = packet.payload  # type: ignore[attr-defined]
    return packet


def test_the_assembler_passes_the_packets_level_on_with_the_frame() -> None:
    frames: list[EncodedFrame] = []
    assembler = AudioAssembler(frames.append)
    assembler.add(audio_packet(1, 33))
    assembler.add(audio_packet(2, None))  # a sender without the extension
    assert [frame.level for frame in frames] == [33, None]
