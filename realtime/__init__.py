"""Live connections: Socket.IO server, event router, bus, resumable streams, codec.

Knows nothing about schools; the composition in ``web`` plugs domain handlers in.
"""
