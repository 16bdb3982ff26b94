"""Load and capacity harnesses (``urok bench …``).

Not built yet.
"""
