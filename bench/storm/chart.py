"""A PNG of the storm: arrivals per second and join latency percentiles over time."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

SERIES = (("urok", None), ("raw", "baseline_raw"), ("stock", "baseline_stock"))


def draw(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - an optional extra
        raise SystemExit("--chart needs matplotlib: pip install -e '.[bench]'") from exc
    figure, (arrivals, latency) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    timeline = report.get("join_timeline") or []
    seconds = [p["second"] for p in timeline]
    arrivals.bar(
        seconds,
        [p.get("scheduled", 0) for p in timeline],
        width=1.0,
        color="#c8d3e6",
        label="arrivals scheduled",
    )
    arrivals.bar(
        seconds,
        [p["arrivals"] for p in timeline],
        width=0.6,
        color="#4c72b0",
        label="of them joined (acked)",
    )
    arrivals.set_ylabel("students per second")
    arrivals.legend(fontsize=8)
    arrivals.set_title(
        f"urok storm: {report['students']:,} students, {report.get('workers')} worker(s), "
        f"{report['shape']} to {report['rate']:g}/s"
    )
    styles = {"p50": "-", "p95": "--", "p99": ":"}
    for name, key in SERIES:
        metrics = report if key is None else report.get(key)
        if not metrics:
            continue
        points = metrics.get("join_timeline") or []
        for q, style in styles.items():
            kept = [p for p in points if p.get(q) is not None and not math.isnan(p[q])]
            xs = [p["second"] for p in kept]
            ys = [p[q] for p in kept]
            if xs:
                latency.plot(xs, ys, style, label=f"{name} {q}")
    latency.set_yscale("log")
    latency.set_ylabel("join latency, ms (arrival → ack)")
    latency.set_xlabel("seconds since the first scheduled arrival")
    latency.legend(fontsize=8, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
