"""Lesson recordings: forwarded media remuxed without re-encoding, with the event timeline.

Not built yet.
"""
