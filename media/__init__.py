"""Video and audio for lessons: a selective forwarding unit on aiortc (forward, never transcode).

Encoded frames are taken from each publisher's receiver before its decoder and handed to
subscribers' senders, which only packetize them. See docs/media.md.
"""
