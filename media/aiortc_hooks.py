"""The three places where the media server reaches into aiortc's internals.

aiortc has no public way to take encoded media out of a receiver or to hand encoded media
to a sender without its encoder. These hooks are written against aiortc 1.16.0 (pinned in
pyproject.toml); ``check_aiortc`` refuses to start on any other version or if the code they
rely on has changed, and ``tests/media/test_aiortc_hooks.py`` says so loudly.

1. Receiver: ``RTCRtpReceiver.__jitter_buffer`` is replaced by an assembler. The receiver
   calls ``add(packet)`` with the depayloaded packet and decodes only what ``add`` returns;
   ours returns no frame, so the decoder thread never gets work (no decoder is created).
2. Sender: ``RTCRtpSender.__encoder`` is set before the sender starts to a packer, which
   ``_next_encoded_frame`` uses as it is (``if self.__encoder is None``) and whose
   ``pack(packet)`` only splits an encoded frame into RTP payloads.
3. Sender: ``RTCRtpSender._send_keyframe``, called on a subscriber's PLI or FIR, is replaced
   on the instance to forward the request to the publisher.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable
from importlib import metadata
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer

from media.assembler import Assembler

AIORTC_VERSION = "1.16.0"

RECEIVER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
SENDER_ENCODER = "_RTCRtpSender__encoder"

_EXPECTED: tuple[tuple[Callable[..., Any], tuple[str, ...]], ...] = (
    (
        RTCRtpReceiver.__init__,
        ("self.__jitter_buffer = JitterBuffer(",),
    ),
    (
        RTCRtpReceiver._handle_rtp_packet,
        (
            "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)",
            "if encoded_frame is not None and self.__decoder_thread:",
            "packet._data = depayload(codec, packet.payload)",
        ),
    ),
    (
        RTCRtpSender._next_encoded_frame,
        (
            "if self.__encoder is None:",
            "payloads, timestamp = self.__encoder.pack(data)",
        ),
    ),
    (RTCRtpSender._handle_rtcp_packet, ("self._send_keyframe()",)),
    (RTCRtpSender.__init__, ("self.__encoder: Optional[Encoder] = None",)),
)


class AiortcChanged(RuntimeError):
    """The installed aiortc is not the one the media server's hooks were written for."""


def check_aiortc() -> None:
    """Raise ``AiortcChanged`` unless aiortc is 1.16.0 with the code the hooks rely on."""
    version = metadata.version("aiortc")
    if version != AIORTC_VERSION:
        raise AiortcChanged(
            f"the media server hooks into aiortc {AIORTC_VERSION}, found {version}: "
            "review media/aiortc_hooks.py before changing the pin"
        )
    for function, fragments in _EXPECTED:
        source = inspect.getsource(function)
        for fragment in fragments:
            if fragment not in source:
                raise AiortcChanged(
                    f"aiortc's {function.__qualname__} no longer contains {fragment!r}: "
                    "review media/aiortc_hooks.py"
                )


def tap_receiver(receiver: RTCRtpReceiver, assembler: Assembler) -> None:
    """Take encoded frames out of ``receiver`` before its decoder (call before media flows)."""
    current = getattr(receiver, RECEIVER_BUFFER, None)
    if not isinstance(current, JitterBuffer):
        raise AiortcChanged("RTCRtpReceiver has no jitter buffer where one was expected")
    setattr(receiver, RECEIVER_BUFFER, assembler)


class Vp8Packer:
    """Splits VP8 frames into RTP payloads as aiortc's encoder does, without encoding."""

    def __init__(self) -> None:
        self.picture_id = random.randint(0, (1 << 15) - 1)

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        payloads = Vp8Encoder._packetize(bytes(packet), self.picture_id)
        self.picture_id = (self.picture_id + 1) % (1 << 15)
        return payloads, int(packet.pts)


class OpusPacker:
    """An Opus frame is one RTP payload."""

    def pack(self, packet: Any) -> tuple[list[bytes], int]:
        return [bytes(packet)], int(packet.pts)


def use_packer(sender: RTCRtpSender, kind: str) -> None:
    """Make ``sender`` packetize the encoded frames its track yields (before it starts).

    The track's packets carry the RTP timestamp as pts in the codec's clock.
    """
    if not hasattr(sender, SENDER_ENCODER) or getattr(sender, SENDER_ENCODER) is not None:
        raise AiortcChanged("RTCRtpSender has no unset encoder where one was expected")
    setattr(sender, SENDER_ENCODER, Vp8Packer() if kind == "video" else OpusPacker())


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the sender's receiver asks for a keyframe (PLI or FIR)."""
    sender._send_keyframe = callback  # type: ignore[method-assign]
