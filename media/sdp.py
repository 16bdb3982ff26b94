"""Checks of the session descriptions clients send before aiortc sees them."""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from classroom.errors import InvalidInput
from media.frames import KINDS, Kind


def offered_kinds(sdp: str, *, publishing: bool) -> list[Kind]:
    """The media kinds of an offer, in m-line order; refuses anything but one audio and
    one video section sending (to publish) or receiving (to subscribe)."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception as exc:
        raise InvalidInput("the offer is not a valid session description", code="bad_sdp") from exc
    kinds: list[Kind] = []
    wanted = {"sendonly", "sendrecv"} if publishing else {"recvonly", "sendrecv"}
    for media in description.media:
        kind = media.kind
        if kind not in KINDS:
            raise InvalidInput(f"only audio and video may be offered, not {kind!r}", code="bad_sdp")
        if kind in kinds:
            raise InvalidInput(f"offer at most one {kind} section", code="bad_sdp")
        if media.direction not in wanted:
            raise InvalidInput(
                f"the {kind} section must be {' or '.join(sorted(wanted))}", code="bad_sdp"
            )
        kinds.append("audio" if kind == "audio" else "video")
    if not kinds:
        raise InvalidInput("the offer has no audio or video", code="bad_sdp")
    return kinds
