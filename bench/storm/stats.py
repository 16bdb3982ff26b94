"""Percentiles and per-second series of the samples the load workers send back."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0–100) of sorted values."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summary(values: Sequence[float], qs: Sequence[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    result: dict[str, float | None] = {}
    for q in qs:
        name = "p" + (str(q).replace(".", "") if q % 1 else str(int(q)))
        value = percentile(ordered, q)
        result[name] = None if math.isnan(value) else round(value, 1)
    return result


def join_latency(values: Sequence[float]) -> dict[str, float | None]:
    return summary(values, (50, 95, 99, 99.9))


def per_second(
    samples: Sequence[tuple[float, float]], scheduled: Sequence[float]
) -> list[dict[str, float]]:
    """Per second of the schedule: arrivals scheduled, joins acked, and the join latency
    percentiles of the acked ones."""
    buckets: defaultdict[int, list[float]] = defaultdict(list)
    for at, ms in samples:
        buckets[int(at)].append(ms)
    planned: defaultdict[int, int] = defaultdict(int)
    for at in scheduled:
        planned[int(at)] += 1
    series = []
    for second in range(max(planned) + 1 if planned else 0):
        ordered = sorted(buckets.get(second, []))
        series.append(
            {
                "second": second,
                "scheduled": planned.get(second, 0),
                "arrivals": len(ordered),
                "p50": percentile(ordered, 50),
                "p95": percentile(ordered, 95),
                "p99": percentile(ordered, 99),
            }
        )
    return series
