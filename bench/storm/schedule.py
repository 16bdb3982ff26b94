"""Arrival times of a morning storm: open-loop offsets in seconds from the start."""

from __future__ import annotations

import math
from statistics import NormalDist

SHAPES = ("ramp", "flat", "bell")


def arrivals(count: int, rate: float, shape: str, ramp: float) -> list[float]:
    """``count`` arrival offsets, ascending, peaking at ``rate`` joins per second.

    ``flat``: ``rate`` from the start. ``ramp``: rising linearly from 0 to ``rate`` over
    ``ramp`` seconds, then flat. ``bell``: a normal curve whose top is ``rate``.
    """
    if count <= 0:
        return []
    if rate <= 0:
        raise ValueError("the rate must be positive")
    if shape == "flat":
        return [i / rate for i in range(count)]
    if shape == "ramp":
        if ramp <= 0:
            return [i / rate for i in range(count)]
        in_ramp = rate * ramp / 2  # arrivals while the rate rises
        times = []
        for i in range(count):
            if i < in_ramp:
                times.append(math.sqrt(2 * ramp * i / rate))
            else:
                times.append(ramp + (i - in_ramp) / rate)
        return times
    if shape == "bell":
        sigma = count / (rate * math.sqrt(2 * math.pi))
        curve = NormalDist(0.0, sigma)
        raw = [curve.inv_cdf((i + 0.5) / count) for i in range(count)]
        return [t - raw[0] for t in raw]
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
