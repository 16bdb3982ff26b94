"""Load and capacity harnesses (``urok bench …``)."""
