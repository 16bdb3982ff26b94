"""The school domain: people, classes, timetable, lessons and the services around them.

Pure Python plus the storage layer; it never imports a transport (aiohttp, socketio, aiortc).
"""
