"""``urok bench storm``: the 8:30 storm — a city's students joining their lessons at once."""
