"""Video and audio for lessons: a selective forwarding unit on aiortc (forward, never transcode).

Not built yet: lessons are text and board only until this package lands.
"""
