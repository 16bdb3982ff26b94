"""One codec per kind for everyone, so that nothing is ever transcoded: VP8 and Opus."""

from __future__ import annotations

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

MIME_TYPES = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}


def preferred_codecs(kind: str) -> list[RTCRtpCodecCapability]:
    """The codec preferences of every media-server transceiver of ``kind``."""
    wanted = MIME_TYPES[kind]
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    return [codec for codec in capabilities if codec.mimeType.lower() in wanted]
